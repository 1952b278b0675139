import type { StreamDropped, StreamMessage } from '@x/broker-http/api-types';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api.ts';
import type { PageProps } from '../app.tsx';
import { formatBytes } from '../format.ts';

/** Messages kept on screen; older ones scroll away. */
const KEEP = 200;

interface Row extends StreamMessage {
  n: number;
}

export function LivePage({ api, onUnauthorized }: PageProps) {
  const [filter, setFilter] = useState('#');
  const [watching, setWatching] = useState<string>();
  const [rows, setRows] = useState<Row[]>([]);
  const [count, setCount] = useState(0);
  const [dropped, setDropped] = useState(0);
  const [state, setState] = useState('');
  const abort = useRef<AbortController | undefined>(undefined);

  const stop = () => {
    abort.current?.abort();
    abort.current = undefined;
    setWatching(undefined);
    setState('Stopped.');
  };
  useEffect(() => () => abort.current?.abort(), []);

  const start = (event: Event) => {
    event.preventDefault();
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setRows([]);
    setCount(0);
    setDropped(0);
    setWatching(filter);
    setState(`Subscribing to ${filter}…`);
    // Messages can arrive faster than the screen needs: they are gathered and drawn once a frame.
    let pending: Row[] = [];
    let n = 0;
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      const batch = pending;
      pending = [];
      setRows((old) => [...batch.reverse(), ...old].slice(0, KEEP));
      setCount(n);
    };
    api
      .stream(
        'stream',
        { filter },
        ({ event: name, data }) => {
          if (name === 'ready') setState(`Watching ${filter}.`);
          else if (name === 'dropped') setDropped((JSON.parse(data) as StreamDropped).dropped);
          else if (name === 'message') {
            pending.push({ ...(JSON.parse(data) as StreamMessage), n: ++n });
            if (pending.length > KEEP) pending.shift();
            if (!scheduled) {
              scheduled = true;
              requestAnimationFrame(flush);
            }
          }
        },
        controller.signal,
      )
      .then(
        () => {
          if (!controller.signal.aborted) setState('The broker ended the stream.');
        },
        (error: Error) => {
          if (error instanceof ApiError && error.status === 401) onUnauthorized();
          setState(error.message);
          setWatching(undefined);
        },
      );
  };

  return (
    <>
      <h1>Live topics</h1>
      <form class="filters" onSubmit={start}>
        <div class="field">
          <label for="live-filter">Topic filter</label>
          <input id="live-filter" required value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        </div>
        <div class="buttons">
          <button type="submit">{watching === undefined ? 'Subscribe' : 'Resubscribe'}</button>
          <button type="button" class="secondary" disabled={watching === undefined} onClick={stop}>
            Stop
          </button>
        </div>
      </form>
      <p class="status" role="status" aria-live="polite">
        {state}
      </p>
      <p class="hint">
        <span data-live-count>{count}</span> messages
        {dropped > 0 && (
          <>
            , <strong class="warn">{dropped} dropped</strong> (the page read too slowly)
          </>
        )}
        . The newest {KEEP} are shown, newest first.
      </p>
      <ol class="messages" aria-label="Messages received">
        {rows.map((m) => (
          <li key={m.n} class="message">
            <div class="message-head">
              <span class="mono topic">{m.topic}</span>
              <span class="badge">QoS {m.qos}</span>
              {m.retain && <span class="badge">retained</span>}
              <span class="hint">
                {formatBytes(m.bytes)} · {new Date(m.at).toLocaleTimeString()}
              </span>
            </div>
            <pre class="payload">
              {m.encoding === 'base64' ? `base64: ${m.payload}` : m.payload}
              {m.truncated ? '…' : ''}
            </pre>
          </li>
        ))}
      </ol>
    </>
  );
}
