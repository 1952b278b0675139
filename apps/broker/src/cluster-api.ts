import type { BrokerCluster, ClusterNodeInfo } from '@x/broker-cluster';
import { type ApiRoute, HttpError } from '@x/broker-http';

/** A node as `GET /api/v1/cluster/nodes` lists it: its last renewal as an ISO date. */
export type ClusterNodeBody = Omit<ClusterNodeInfo, 'lastRenewal'> & { lastRenewal: string | null };

/**
 * The management API's cluster endpoints, served under `/api/v1/cluster/` in cluster mode:
 *
 * - `GET nodes`: every node with its health (lease current, ready) and load (clients,
 *   subscriptions, messages in and out, last lease renewal),
 * - `GET stats`: the live nodes' figures added up (as `$SYS/cluster/…`),
 * - `GET clients/count`: the cluster-wide online count,
 * - `GET clients/<id>`: which node holds the client's session, and the session as that node sees it,
 * - `POST clients/<id>/kick` (or `DELETE clients/<id>`): the node where it is connected disconnects
 *   it (v5: DISCONNECT `?reasonCode=`, default 0x98 Administrative action).
 */
export function clusterRoutes(cluster: BrokerCluster): ApiRoute {
  return async ({ method, path, query }) => {
    const [what, id, action] = path;
    const route = `${method} ${what ?? ''}${id === undefined ? '' : '/:id'}${action === undefined ? '' : `/${action}`}`;
    switch (route) {
      case 'GET nodes': {
        const nodes = await cluster.nodes();
        const items: ClusterNodeBody[] = nodes.map((n) => ({
          ...n,
          lastRenewal: n.lastRenewal === null ? null : new Date(n.lastRenewal).toISOString(),
        }));
        return { nodeId: cluster.nodeId, items };
      }
      case 'GET stats':
        return cluster.totals();
      case 'GET clients/:id': {
        if (id === 'count') {
          const totals = await cluster.totals();
          return { online: totals.clientsConnected, sessions: totals.sessions, nodes: totals.alive };
        }
        const found = await cluster.lookup(id!);
        if (found === undefined) {
          throw new HttpError(404, 'CLIENT_NOT_FOUND', `no node holds a session with client id "${id}"`);
        }
        return found;
      }
      case 'POST clients/:id/kick':
      case 'DELETE clients/:id': {
        const { kicked, nodeId } = await cluster.kick(id!, reasonCode(query));
        if (!kicked) {
          throw new HttpError(404, 'CLIENT_NOT_CONNECTED', `no node has a connected client with id "${id}"`);
        }
        return { kicked: id, nodeId };
      }
      default:
        return undefined;
    }
  };
}

/** `?reasonCode=`: a DISCONNECT reason code the server may send (0x80–0xA2); 0x98 by default. */
function reasonCode(query: URLSearchParams): number {
  const raw = query.get('reasonCode');
  if (raw === null || raw === '') return 0x98;
  const code = Number(raw);
  if (!Number.isInteger(code) || code < 0x80 || code > 0xa2) {
    throw new HttpError(400, 'INVALID_PARAMETER', 'reasonCode must be an integer from 128 to 162');
  }
  return code;
}
