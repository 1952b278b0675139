import type { SessionInfo } from '@x/broker';
import { describe, expect, it } from 'vitest';
import { LocalSummary, RemoteSummaries } from '../src/summary.js';

function session(clientId: string, filters: string[]): SessionInfo {
  return {
    clientId,
    subscriptions: new Map(filters.map((f) => [f, {} as never])),
  } as unknown as SessionInfo;
}

describe('LocalSummary', () => {
  it('announces a filter on its first session and withdraws it after its last', () => {
    const changes: string[] = [];
    const summary = new LocalSummary((f, present) => changes.push(`${present ? '+' : '-'}${f}`));
    summary.add('c1', 'a/#');
    summary.add('c2', 'a/#');
    summary.add('c2', 'b');
    summary.remove('c1', 'a/#');
    expect(changes).toEqual(['+a/#', '+b']);
    summary.removeClient('c2');
    expect(changes).toEqual(['+a/#', '+b', '-a/#', '-b']);
    expect(summary.size).toBe(0);
  });

  it('rebuilds from the sessions as they are (ends no event reported)', () => {
    const changes: string[] = [];
    const summary = new LocalSummary((f, present) => changes.push(`${present ? '+' : '-'}${f}`));
    summary.add('gone', 'x');
    summary.add('kept', 'y');
    summary.add('kept', 'z');
    summary.rebuild([session('kept', ['y', 'w'])]);
    expect(changes).toEqual(['+x', '+y', '+z', '-z', '+w', '-x']);
    expect([...summary.filters()].sort()).toEqual(['w', 'y']);
  });
});

describe('RemoteSummaries', () => {
  it('finds the nodes whose filters match a topic, and share groups with the nodes holding members', () => {
    const remote = new RemoteSummaries();
    remote.add('n1', 'a/+');
    remote.add('n2', '$share/g/a/#');
    remote.add('n3', '$share/g/a/#');
    remote.add('n2', 'a/b');
    remote.add('n3', 'other');
    const match = remote.match('a/b');
    expect(match.nodes.sort()).toEqual(['n1', 'n2']);
    expect(match.groups.map((g) => [g.shareName, g.topicFilter, g.members.map((m) => m.clientId)])).toEqual([
      ['g', 'a/#', ['n2', 'n3']],
    ]);
    expect(remote.match('a/b/c').nodes).toEqual([]);
    remote.remove('n2', 'a/b');
    expect(remote.match('a/b').nodes).toEqual(['n1']);
    remote.remove('n2', '$share/g/a/#');
    expect(remote.match('a/b').groups[0]?.members.map((m) => m.clientId)).toEqual(['n3']);
    remote.reset('n1', ['z']);
    expect(remote.match('a/b').nodes).toEqual([]);
    remote.drop('n3');
    expect(remote.match('other')).toEqual({ nodes: [], groups: [] });
    expect(remote.filterCount('n1')).toBe(1);
  });
});
