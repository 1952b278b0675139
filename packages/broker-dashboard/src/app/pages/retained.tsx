import { useState } from 'preact/hooks';
import type { PageProps } from '../app.tsx';
import { formatBytes, showPayload } from '../format.ts';
import { ErrorNote, Pager, Status, useDebounced, useFeedFigure, useLoad } from '../ui.tsx';

const LIMIT = 50;
/** Characters of a payload shown in the table. */
const PREVIEW = 120;

export function RetainedPage({ api, feed, onUnauthorized }: PageProps) {
  const [filter, setFilter] = useState('#');
  const [contains, setContains] = useState('');
  const [offset, setOffset] = useState(0);
  const [status, setStatus] = useState('');
  const topicFilter = useDebounced(filter);
  const text = useDebounced(contains);
  const changed = useFeedFigure(feed, (s) => s.retained);
  const list = useLoad(
    () => api.retained({ filter: topicFilter || '#', contains: text, offset, limit: LIMIT }),
    [topicFilter, text, offset, changed],
    onUnauthorized,
  );
  const remove = async (topic: string) => {
    if (!confirm(`Delete the retained message on "${topic}"?`)) return;
    try {
      await api.deleteRetained(topic);
      setStatus(`Deleted the retained message on ${topic}.`);
    } catch (error) {
      setStatus((error as Error).message);
    }
    list.reload();
  };
  return (
    <>
      <h1>Retained messages</h1>
      <form class="filters" aria-label="Filter retained messages" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="retained-filter">Topic filter</label>
          <input
            id="retained-filter"
            type="search"
            value={filter}
            onInput={(e) => {
              setFilter(e.currentTarget.value);
              setOffset(0);
            }}
          />
        </div>
        <div class="field">
          <label for="retained-contains">Topic contains</label>
          <input
            id="retained-contains"
            type="search"
            value={contains}
            onInput={(e) => {
              setContains(e.currentTarget.value);
              setOffset(0);
            }}
          />
        </div>
      </form>
      <Status message={status} />
      <ErrorNote error={list.error} />
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Retained messages</caption>
          <thead>
            <tr>
              <th scope="col">Topic</th>
              <th scope="col">QoS</th>
              <th scope="col">Size</th>
              <th scope="col">Payload</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data?.items.map((m) => {
              const payload = showPayload(m.payload);
              return (
                <tr key={m.topic} data-topic={m.topic}>
                  <th scope="row" class="mono">
                    {m.topic}
                  </th>
                  <td>{m.qos}</td>
                  <td>{formatBytes(m.bytes)}</td>
                  <td class="mono payload">
                    {payload.length > PREVIEW ? `${payload.slice(0, PREVIEW)}…` : payload}
                  </td>
                  <td class="actions">
                    <button type="button" class="danger" onClick={() => remove(m.topic)}>
                      Delete<span class="visually-hidden"> {m.topic}</span>
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {list.data?.total === 0 && <p class="hint">No retained messages match.</p>}
      </div>
      {list.data && (
        <Pager
          label="Retained messages"
          offset={offset}
          limit={LIMIT}
          total={list.data.total}
          onOffset={setOffset}
        />
      )}
    </>
  );
}
