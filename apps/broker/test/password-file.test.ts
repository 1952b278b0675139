import { describe, expect, it } from 'vitest';
import { editPasswordFile, usernameError } from '../src/commands/password-file.js';

describe('Mosquitto password file edits', () => {
  const text = '# users\nalice:$7$101$a$b\n\nbob:$6$c$d\n';

  it('updates a user in place, keeping comments and blank lines', () => {
    expect(editPasswordFile(text, 'alice', 'NEW')).toEqual({
      text: '# users\nalice:NEW\n\nbob:$6$c$d\n',
      found: true,
    });
  });

  it('adds a new user at the end and deletes one', () => {
    expect(editPasswordFile(text, 'carol', 'H').text).toBe(`${text}carol:H\n`);
    expect(editPasswordFile(text, 'bob', undefined)).toEqual({
      text: '# users\nalice:$7$101$a$b\n\n',
      found: true,
    });
    expect(editPasswordFile(text, 'nobody', undefined).found).toBe(false);
    expect(editPasswordFile('', 'a', 'H').text).toBe('a:H\n');
    // A user whose name is a prefix of another is not confused with it.
    expect(editPasswordFile('alicex:H1\n', 'alice', 'H2').text).toBe('alicex:H1\nalice:H2\n');
  });

  it('refuses user names that would break the file', () => {
    expect(usernameError('a:b')).toMatch(/contains ":"/);
    expect(usernameError('a\nb')).toMatch(/line break/);
    expect(usernameError('')).toBe('the user name is empty');
    expect(usernameError('ok name')).toBeUndefined();
  });
});
