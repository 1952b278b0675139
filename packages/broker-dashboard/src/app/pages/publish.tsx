import type { PublishProperties, PublishRequest } from '@x/broker-http/api-types';
import { useState } from 'preact/hooks';
import { ApiError } from '../api.ts';
import type { PageProps } from '../app.tsx';
import { Status } from '../ui.tsx';

/** "name=value" lines → user properties. */
function userProperties(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const at = line.indexOf('=');
      return at < 0 ? [line, ''] : [line.slice(0, at), line.slice(at + 1)];
    });
}

function toBase64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

export function PublishPage({ api, onUnauthorized }: PageProps) {
  const [topic, setTopic] = useState('');
  const [payload, setPayload] = useState('');
  const [qos, setQos] = useState<0 | 1 | 2>(0);
  const [retain, setRetain] = useState(false);
  const [contentType, setContentType] = useState('');
  const [responseTopic, setResponseTopic] = useState('');
  const [correlation, setCorrelation] = useState('');
  const [expiry, setExpiry] = useState('');
  const [utf8, setUtf8] = useState(false);
  const [user, setUser] = useState('');
  const [status, setStatus] = useState('');
  const [error, setError] = useState('');

  const submit = async (event: Event) => {
    event.preventDefault();
    setStatus('');
    setError('');
    const properties: PublishProperties = {};
    if (utf8) properties.payloadFormatIndicator = 1;
    if (contentType) properties.contentType = contentType;
    if (responseTopic) properties.responseTopic = responseTopic;
    if (correlation) properties.correlationData = toBase64(correlation);
    if (expiry) properties.messageExpiryInterval = Number(expiry);
    const pairs = userProperties(user);
    if (pairs.length > 0) properties.userProperties = pairs;
    const request: PublishRequest = { topic, payload, qos, retain };
    if (Object.keys(properties).length > 0) request.properties = properties;
    try {
      const answer = await api.publish(request);
      setStatus(`Published ${answer.bytes} bytes to ${answer.topic}.`);
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 401) onUnauthorized();
      setError((failure as Error).message);
    }
  };

  return (
    <>
      <h1>Publish</h1>
      <form class="form" onSubmit={submit}>
        <div class="field">
          <label for="pub-topic">Topic</label>
          <input
            id="pub-topic"
            required
            value={topic}
            onInput={(e) => setTopic(e.currentTarget.value)}
            placeholder="sensors/kitchen/temperature"
          />
        </div>
        <div class="field">
          <label for="pub-payload">Payload</label>
          <textarea
            id="pub-payload"
            rows={5}
            value={payload}
            onInput={(e) => setPayload(e.currentTarget.value)}
          />
        </div>
        <div class="row">
          <div class="field">
            <label for="pub-qos">QoS</label>
            <select
              id="pub-qos"
              value={qos}
              onChange={(e) => setQos(Number(e.currentTarget.value) as 0 | 1 | 2)}
            >
              <option value="0">0 – at most once</option>
              <option value="1">1 – at least once</option>
              <option value="2">2 – exactly once</option>
            </select>
          </div>
          <div class="check">
            <input
              id="pub-retain"
              type="checkbox"
              checked={retain}
              onChange={(e) => setRetain(e.currentTarget.checked)}
            />
            <label for="pub-retain">Retain</label>
          </div>
        </div>
        <details>
          <summary>MQTT 5 properties</summary>
          <div class="check">
            <input
              id="pub-utf8"
              type="checkbox"
              checked={utf8}
              onChange={(e) => setUtf8(e.currentTarget.checked)}
            />
            <label for="pub-utf8">Payload is UTF-8 text (payload format indicator)</label>
          </div>
          <div class="field">
            <label for="pub-content-type">Content type</label>
            <input
              id="pub-content-type"
              value={contentType}
              onInput={(e) => setContentType(e.currentTarget.value)}
              placeholder="application/json"
            />
          </div>
          <div class="field">
            <label for="pub-response-topic">Response topic</label>
            <input
              id="pub-response-topic"
              value={responseTopic}
              onInput={(e) => setResponseTopic(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="pub-correlation">Correlation data (text)</label>
            <input
              id="pub-correlation"
              value={correlation}
              onInput={(e) => setCorrelation(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="pub-expiry">Message expiry interval (seconds)</label>
            <input
              id="pub-expiry"
              type="number"
              min={0}
              max={4294967295}
              inputMode="numeric"
              value={expiry}
              onInput={(e) => setExpiry(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="pub-user">User properties (one name=value a line)</label>
            <textarea id="pub-user" rows={3} value={user} onInput={(e) => setUser(e.currentTarget.value)} />
          </div>
        </details>
        <button type="submit">Publish</button>
        <Status message={status} />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </>
  );
}
