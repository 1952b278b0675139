import { useState } from 'preact/hooks';
import type { PageProps } from '../app.tsx';
import { ErrorNote, Pager, useDebounced, useFeedFigure, useLoad } from '../ui.tsx';

const LIMIT = 50;

export function SubscriptionsPage({ api, feed, onUnauthorized }: PageProps) {
  const [contains, setContains] = useState('');
  const [clientId, setClientId] = useState('');
  const [offset, setOffset] = useState(0);
  const text = useDebounced(contains);
  const client = useDebounced(clientId);
  const changed = useFeedFigure(feed, (s) => s.subscriptions);
  const list = useLoad(
    () => api.subscriptions({ contains: text, clientId: client || undefined, offset, limit: LIMIT }),
    [text, client, offset, changed],
    onUnauthorized,
  );
  return (
    <>
      <h1>Subscriptions</h1>
      <form class="filters" aria-label="Filter subscriptions" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="sub-contains">Topic filter or client id contains</label>
          <input
            id="sub-contains"
            type="search"
            value={contains}
            onInput={(e) => {
              setContains(e.currentTarget.value);
              setOffset(0);
            }}
          />
        </div>
        <div class="field">
          <label for="sub-client">Exact client id</label>
          <input
            id="sub-client"
            type="search"
            value={clientId}
            onInput={(e) => {
              setClientId(e.currentTarget.value);
              setOffset(0);
            }}
          />
        </div>
      </form>
      <ErrorNote error={list.error} />
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Subscriptions</caption>
          <thead>
            <tr>
              <th scope="col">Topic filter</th>
              <th scope="col">Client id</th>
              <th scope="col">QoS</th>
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((s) => (
              <tr key={`${s.clientId}\u0000${s.topicFilter}`}>
                <td class="mono">{s.topicFilter}</td>
                <td class="mono">{s.clientId}</td>
                <td>{s.qos}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {list.data?.total === 0 && <p class="hint">No subscriptions match.</p>}
      </div>
      {list.data && (
        <Pager
          label="Subscriptions"
          offset={offset}
          limit={LIMIT}
          total={list.data.total}
          onOffset={setOffset}
        />
      )}
    </>
  );
}
