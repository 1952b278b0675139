import type { StatsSample } from '@x/broker-http/api-types';
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';
import type { StatsFeed } from './stats.ts';

/** What a page loads: the data, the failure, and a way to load again. */
export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` now and whenever `deps` change; a 401 sends the user back to the login form. An
 * older answer arriving after a newer request is ignored.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], onUnauthorized: () => void): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const request = useRef(0);
  useEffect(() => {
    const id = ++request.current;
    setLoading(true);
    load().then(
      (value) => {
        if (id !== request.current) return;
        setData(value);
        setError(undefined);
        setLoading(false);
      },
      (failure: Error) => {
        if (id !== request.current) return;
        if (failure instanceof ApiError && failure.status === 401) onUnauthorized();
        setError(failure);
        setLoading(false);
      },
    );
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/**
 * A figure of the tab's stats stream, as a dependency that changes when the figure does: lists
 * reload when the broker's counts move (a client connects, a message is retained), with no polling.
 */
export function useFeedFigure(feed: StatsFeed, figure: (sample: StatsSample) => number | string): string {
  const read = () => {
    const last = feed.samples[feed.samples.length - 1];
    return last ? String(figure(last)) : '';
  };
  const [value, setValue] = useState(read);
  useEffect(() => feed.subscribe(() => setValue(read())), [feed]);
  return value;
}

/** A value that follows `value` after `ms` without change (search boxes). */
export function useDebounced<T>(value: T, ms = 250): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

export function ErrorNote({ error }: { error: Error | undefined }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message}
    </p>
  );
}

/** A polite live region for results of actions ("Published", "Kicked"). */
export function Status({ message }: { message: string }) {
  return (
    <p class="status" role="status" aria-live="polite">
      {message}
    </p>
  );
}

export function PageHeading({ children }: { children: ComponentChildren }) {
  return <h1>{children}</h1>;
}

interface PagerProps {
  label: string;
  offset: number;
  limit: number;
  total: number;
  onOffset: (offset: number) => void;
}

/** Previous/next over a paged list, with "21–40 of 95". */
export function Pager({ label, offset, limit, total, onOffset }: PagerProps) {
  if (total === 0) return null;
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(offset + limit, total);
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - limit))}>
        Previous
      </button>
      <span aria-live="polite">
        {first}–{last} of {total}
      </span>
      <button type="button" disabled={last >= total} onClick={() => onOffset(offset + limit)}>
        Next
      </button>
    </nav>
  );
}
