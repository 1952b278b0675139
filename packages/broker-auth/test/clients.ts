import type { Message } from '@x/broker';
import type { AuthClient } from '../src/client-view.js';

/** What the auth hooks read of a connection: `alice` on client id `c1` unless told. */
export const client = (id = 'c1', username: string | undefined = 'alice'): AuthClient => ({
  id,
  username,
  remoteAddress: '10.0.0.1:5000',
  listener: 'tcp',
  protocolVersion: 5,
  data: {},
});

/** A message with only its topic, all an ACL check reads. */
export const message = (topic: string) => ({ topic }) as Message;
