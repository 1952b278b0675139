import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Api } from './api.ts';
import { ClientsPage } from './pages/clients.tsx';
import { ConfigPage } from './pages/config.tsx';
import { LivePage } from './pages/live.tsx';
import { Login } from './pages/login.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { PublishPage } from './pages/publish.tsx';
import { RetainedPage } from './pages/retained.tsx';
import { SubscriptionsPage } from './pages/subscriptions.tsx';
import { StatsFeed } from './stats.ts';

/** The token lives in this tab only: sessionStorage, gone when the tab closes. */
const TOKEN_KEY = 'mqtt-dashboard-token';

const PAGES = [
  { path: 'overview', label: 'Overview' },
  { path: 'clients', label: 'Clients' },
  { path: 'subscriptions', label: 'Subscriptions' },
  { path: 'retained', label: 'Retained' },
  { path: 'publish', label: 'Publish' },
  { path: 'live', label: 'Live' },
  { path: 'config', label: 'Config' },
] as const;

type PagePath = (typeof PAGES)[number]['path'];

function currentPage(): PagePath {
  const path = location.hash.replace(/^#\/?/, '');
  return PAGES.find((p) => p.path === path)?.path ?? 'overview';
}

export interface PageProps {
  api: Api;
  feed: StatsFeed;
  /** The server no longer takes the token: back to the login form. */
  onUnauthorized: () => void;
}

export function App() {
  const [token, setToken] = useState(() => sessionStorage.getItem(TOKEN_KEY));
  const [page, setPage] = useState(currentPage);
  const heading = useRef<HTMLElement>(null);
  const api = useMemo(() => (token ? new Api(token) : undefined), [token]);
  const feed = useMemo(() => (api ? new StatsFeed(api) : undefined), [api]);

  useEffect(() => () => feed?.stop(), [feed]);
  useEffect(() => {
    const onHash = () => setPage(currentPage());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  // After navigation, focus moves to the page, so keyboard and screen-reader users land there.
  useEffect(() => {
    heading.current?.focus();
    document.title = `${PAGES.find((p) => p.path === page)?.label} · MQTT broker`;
  }, [page]);

  if (!api || !feed) {
    return (
      <Login
        onLogin={(value) => {
          sessionStorage.setItem(TOKEN_KEY, value);
          setToken(value);
        }}
      />
    );
  }
  const logout = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    setToken(null);
  };
  const props = { api, feed, onUnauthorized: logout };
  return (
    <>
      {/* A button, not a link: the hash holds the page, so "#main" would navigate. */}
      <button type="button" class="skip" onClick={() => heading.current?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">MQTT broker</span>
        <nav aria-label="Main">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={p.path === page ? 'page' : undefined}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="secondary" onClick={logout}>
          Log out
        </button>
      </header>
      <main id="main" ref={heading} tabIndex={-1}>
        {page === 'overview' && <OverviewPage {...props} />}
        {page === 'clients' && <ClientsPage {...props} />}
        {page === 'subscriptions' && <SubscriptionsPage {...props} />}
        {page === 'retained' && <RetainedPage {...props} />}
        {page === 'publish' && <PublishPage {...props} />}
        {page === 'live' && <LivePage {...props} />}
        {page === 'config' && <ConfigPage {...props} />}
      </main>
    </>
  );
}
