import type { BlockRequest } from '@x/broker-http/api-types';
import { useState } from 'preact/hooks';
import type { PageProps } from '../app.tsx';
import { formatTime, PROTOCOLS } from '../format.ts';
import { ErrorNote, Pager, Status, useDebounced, useFeedFigure, useLoad } from '../ui.tsx';

const LIMIT = 25;

export function ClientsPage({ api, feed, onUnauthorized }: PageProps) {
  const [search, setSearch] = useState('');
  const [online, setOnline] = useState<'' | 'true' | 'false'>('');
  const [offset, setOffset] = useState(0);
  const [selected, setSelected] = useState<string>();
  const [status, setStatus] = useState('');
  const query = useDebounced(search);
  // Connections and the total of connections ever made: any connect or disconnect changes one.
  const changed = useFeedFigure(feed, (s) => `${s.connections}/${s.sessions}/${s.connectionsTotal}`);
  const list = useLoad(
    () =>
      api.clients({
        search: query,
        online: online === '' ? undefined : online === 'true',
        offset,
        limit: LIMIT,
      }),
    [query, online, offset, changed],
    onUnauthorized,
  );
  const blocks = useLoad(() => api.blocklist(), [], onUnauthorized);
  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      setStatus(done);
    } catch (error) {
      setStatus((error as Error).message);
    }
    list.reload();
    blocks.reload();
  };
  return (
    <>
      <h1>Clients</h1>
      <form class="filters" aria-label="Filter clients" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="client-search">Search client id, user name or address</label>
          <input
            id="client-search"
            type="search"
            value={search}
            onInput={(e) => {
              setSearch(e.currentTarget.value);
              setOffset(0);
            }}
          />
        </div>
        <div class="field">
          <label for="client-online">Show</label>
          <select
            id="client-online"
            value={online}
            onChange={(e) => {
              setOnline(e.currentTarget.value as '' | 'true' | 'false');
              setOffset(0);
            }}
          >
            <option value="">all sessions</option>
            <option value="true">online</option>
            <option value="false">offline</option>
          </select>
        </div>
      </form>
      <Status message={status} />
      <ErrorNote error={list.error} />
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Clients</caption>
          <thead>
            <tr>
              <th scope="col">Client id</th>
              <th scope="col">State</th>
              <th scope="col">User name</th>
              <th scope="col">Address</th>
              <th scope="col">Protocol</th>
              <th scope="col">Connected since</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((c) => (
              <tr key={c.clientId} data-client-id={c.clientId}>
                <th scope="row" class="mono">
                  {c.clientId}
                </th>
                <td>
                  <span class={c.online ? 'badge on' : 'badge'}>{c.online ? 'online' : 'offline'}</span>
                </td>
                <td>{c.username ?? '—'}</td>
                <td class="mono">{c.remoteAddress ?? '—'}</td>
                <td>{PROTOCOLS[c.protocolVersion] ?? c.protocolVersion}</td>
                <td>{formatTime(c.connectedAt)}</td>
                <td class="actions">
                  <button
                    type="button"
                    class="secondary"
                    aria-expanded={selected === c.clientId}
                    aria-controls="client-details"
                    onClick={() => setSelected(selected === c.clientId ? undefined : c.clientId)}
                  >
                    Details<span class="visually-hidden"> of {c.clientId}</span>
                  </button>
                  {c.online && (
                    <button
                      type="button"
                      class="danger"
                      onClick={() => act(() => api.kick(c.clientId), `Disconnected ${c.clientId}.`)}
                    >
                      Kick<span class="visually-hidden"> {c.clientId}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.data?.total === 0 && <p class="hint">No clients match.</p>}
      </div>
      {list.data && (
        <Pager label="Clients" offset={offset} limit={LIMIT} total={list.data.total} onOffset={setOffset} />
      )}
      {selected !== undefined && (
        <ClientDetailsPanel
          key={selected}
          api={api}
          clientId={selected}
          onUnauthorized={onUnauthorized}
          onBlock={(entry, done) => act(() => api.block(entry), done)}
        />
      )}
      <section aria-labelledby="blocklist-heading">
        <h2 id="blocklist-heading">Block list</h2>
        <ErrorNote error={blocks.error} />
        {blocks.data?.items.length === 0 && <p class="hint">Nobody is blocked.</p>}
        <ul class="plain">
          {blocks.data?.items.map((b) => {
            const what = b.clientId
              ? `client id ${b.clientId}`
              : b.username
                ? `user name ${b.username}`
                : `address ${b.remote}`;
            return (
              <li key={b.id}>
                {what}
                {b.reason ? ` (${b.reason})` : ''}{' '}
                <button
                  type="button"
                  class="secondary"
                  onClick={() => act(() => api.unblock(b.id), `Unblocked ${what}.`)}
                >
                  Unblock<span class="visually-hidden"> {what}</span>
                </button>
              </li>
            );
          })}
        </ul>
      </section>
    </>
  );
}

interface DetailsProps {
  api: PageProps['api'];
  clientId: string;
  onUnauthorized: () => void;
  onBlock: (entry: BlockRequest, done: string) => void;
}

function ClientDetailsPanel({ api, clientId, onUnauthorized, onBlock }: DetailsProps) {
  const details = useLoad(() => api.client(clientId), [clientId], onUnauthorized);
  const d = details.data;
  return (
    <section id="client-details" class="panel" aria-labelledby="details-heading">
      <h2 id="details-heading">
        Client <span class="mono">{clientId}</span>
      </h2>
      <ErrorNote error={details.error} />
      {d && (
        <>
          <dl class="pairs">
            <dt>State</dt>
            <dd>{d.online ? 'online' : 'offline'}</dd>
            <dt>Protocol</dt>
            <dd>{PROTOCOLS[d.protocolVersion] ?? d.protocolVersion}</dd>
            <dt>User name</dt>
            <dd>{d.username ?? '—'}</dd>
            <dt>Address</dt>
            <dd class="mono">{d.remoteAddress ?? '—'}</dd>
            <dt>Listener</dt>
            <dd>{d.listener ?? '—'}</dd>
            <dt>Keep-alive</dt>
            <dd>{d.keepAlive === null ? '—' : `${d.keepAlive} s`}</dd>
            <dt>Connected since</dt>
            <dd>{formatTime(d.connectedAt)}</dd>
            <dt>Last seen</dt>
            <dd>{formatTime(d.lastSeen)}</dd>
            <dt>Session expiry</dt>
            <dd>{d.sessionExpiryInterval === 0xffffffff ? 'never' : `${d.sessionExpiryInterval} s`}</dd>
            <dt>In flight</dt>
            <dd>{d.inflight}</dd>
            <dt>Queued</dt>
            <dd>{d.queued}</dd>
          </dl>
          <h3>Subscriptions ({d.subscriptions.length})</h3>
          <ul class="plain mono">
            {d.subscriptions.map((s) => (
              <li key={s.topicFilter}>
                {s.topicFilter} <span class="badge">QoS {s.qos}</span>
                {s.noLocal && <span class="badge">no local</span>}
              </li>
            ))}
          </ul>
          <div class="buttons">
            <button
              type="button"
              class="danger"
              onClick={() => onBlock({ clientId, reason: 'dashboard' }, `Blocked client id ${clientId}.`)}
            >
              Block client id
            </button>
            {d.username && (
              <button
                type="button"
                class="danger"
                onClick={() =>
                  onBlock({ username: d.username!, reason: 'dashboard' }, `Blocked user name ${d.username}.`)
                }
              >
                Block user name
              </button>
            )}
            {d.remoteAddress && (
              <button
                type="button"
                class="danger"
                onClick={() => {
                  const address = d.remoteAddress!.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
                  onBlock({ remote: address, reason: 'dashboard' }, `Blocked address ${address}.`);
                }}
              >
                Block address
              </button>
            )}
            <button type="button" class="secondary" onClick={details.reload}>
              Refresh
            </button>
          </div>
        </>
      )}
    </section>
  );
}
