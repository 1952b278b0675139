import { useState } from 'preact/hooks';
import { Api, ApiError } from '../api.ts';

/** One password field; the token is checked against the API before it is kept. */
export function Login({ onLogin }: { onLogin: (token: string) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      await new Api(token).info();
      onLogin(token);
    } catch (failure) {
      const status = failure instanceof ApiError ? failure.status : 0;
      setError(
        status === 401
          ? 'The broker refused this token.'
          : status === 403
            ? 'The management API is disabled: start the broker with an HTTP token.'
            : `Cannot reach the broker: ${(failure as Error).message}`,
      );
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <h1>MQTT broker</h1>
        <label for="token">Management token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy || token === ''}>
          Log in
        </button>
        {error && (
          <p id="login-error" class="error" role="alert">
            {error}
          </p>
        )}
        <p class="hint">The token is kept in this tab only and forgotten when it closes.</p>
      </form>
    </main>
  );
}
