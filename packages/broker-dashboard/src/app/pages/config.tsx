import type { PageProps } from '../app.tsx';
import { ErrorNote, useLoad } from '../ui.tsx';

export function ConfigPage({ api, onUnauthorized }: PageProps) {
  const info = useLoad(() => api.info(), [], onUnauthorized);
  const config = useLoad(() => api.config(), [], onUnauthorized);
  return (
    <>
      <h1>Configuration</h1>
      <section aria-labelledby="listeners-heading">
        <h2 id="listeners-heading">Listeners</h2>
        <ErrorNote error={info.error} />
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">Listeners</caption>
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Address</th>
              </tr>
            </thead>
            <tbody>
              {info.data?.listeners.map((l) => (
                <tr key={l.id}>
                  <th scope="row">{l.id}</th>
                  <td class="mono">{l.address}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {info.data && (
          <p class="hint">
            {info.data.name} {info.data.version} on Node.js {info.data.node}, started{' '}
            {new Date(info.data.startedAt).toLocaleString()}.
          </p>
        )}
      </section>
      <section aria-labelledby="config-heading">
        <h2 id="config-heading">Settings in force</h2>
        <p class="hint">Secrets are masked by the broker before they are sent.</p>
        <ErrorNote error={config.error} />
        {config.data && <pre class="json">{JSON.stringify(config.data, null, 2)}</pre>}
      </section>
    </>
  );
}
