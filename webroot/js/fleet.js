// The fleet, as pure data: GET /api/llm/nodes summarised per node together with the live
// operations (each carries `node`), the choices of the load form's "Where" field, and the load
// request they make. No DOM here, so node can test it.

import { isNum, clampPercent, statusInfo, formatBytes, formatClock, formatDuration } from './format.js';

/** The "Where" value for a load on every node that is up (node names cannot contain "*"). */
export const ALL_NODES = '*all';

const str = (v) => (typeof v === 'string' && v ? v : null);
const num = (v) => (isNum(v) ? v : null);

/** A parent of a multi-node load runs no stage of its own: its children are the work. */
export function isParent(op) {
  return !!(op && Array.isArray(op.children));
}

/**
 * The fleet for the page: every node of the answer (server order), with its resources, loaded
 * models and the unfinished operations it runs (from the live list, parents left out).
 * `multi` says whether the fleet has more than one node; `up` lists the nodes a load can go to.
 */
export function summarizeFleet(body, ops = []) {
  const list = body && Array.isArray(body.nodes) ? body.nodes : [];
  const active = new Map();
  for (const op of ops || []) {
    if (!op || !str(op.node) || isParent(op) || statusInfo(op).finished) continue;
    if (!active.has(op.node)) active.set(op.node, []);
    active.get(op.node).push({
      operation_id: op.operation_id,
      model_name: op.model_name || op.repo || 'model',
      status: statusInfo(op).status,
      label: statusInfo(op).label,
      progress: clampPercent(op.progress),
    });
  }
  const nodes = list.filter((n) => n && str(n.node)).map((n) => {
    const r = n.resources && typeof n.resources === 'object' ? n.resources : {};
    const lost = n.status === 'lost';
    return {
      name: n.node,
      self: n.self === true,
      status: lost ? 'lost' : 'up',
      lost,
      lastSeen: str(n.last_seen),
      startedAt: str(n.started_at),
      memoryAvailable: num(r.memory_available_bytes),
      memoryFree: num(r.memory_free_for_models_bytes),
      memoryLimit: num(r.memory_limit_bytes),
      diskFree: num(r.disk_free_bytes),
      loaded: (Array.isArray(n.loaded_models) ? n.loaded_models : []).filter((m) => m && typeof m === 'object').map((m) => ({
        repo: str(m.repo) || str(m.model_key) || 'model',
        bytes: num(m.bytes_resident),
        idleSeconds: num(m.idle_seconds),
        pinned: m.pinned === true,
      })),
      activeCount: isNum(n.active_operations) ? n.active_operations : 0,
      active: active.get(n.node) || [],
    };
  });
  const self = str(body && body.self) || (nodes.find((n) => n.self) || {}).name || null;
  return {
    clustered: !!(body && body.clustered === true),
    self,
    nodes,
    up: nodes.filter((n) => !n.lost).map((n) => n.name),
    lost: nodes.filter((n) => n.lost).map((n) => n.name),
    multi: nodes.length > 1,
  };
}

/** Whether the page names each operation's node: when there is more than one node to tell apart. */
export function showsNodes(summary, ops = []) {
  if (summary && summary.multi) return true;
  const seen = new Set((ops || []).map((op) => op && op.node).filter(Boolean));
  return seen.size > 1;
}

/** "Memory 12 GiB available · 8 GiB free for models · limit 512 MiB · disk 80 GiB free". */
export function resourcesText(n) {
  if (!n) return '';
  const bits = [];
  if (n.memoryAvailable !== null) bits.push(`${formatBytes(n.memoryAvailable)} memory available`);
  if (n.memoryFree !== null) bits.push(`${formatBytes(n.memoryFree)} free for models`);
  if (n.memoryLimit !== null) bits.push(`limit ${formatBytes(n.memoryLimit)}`);
  if (n.diskFree !== null) bits.push(`${formatBytes(n.diskFree)} disk free`);
  return bits.join(' · ');
}

/** "hoist/demo-tiny · 16 MiB · idle 12 s" for one loaded model. */
export function loadedText(m) {
  const bits = [m.repo];
  if (m.bytes !== null) bits.push(formatBytes(m.bytes));
  if (m.idleSeconds !== null) bits.push(`idle ${formatDuration(m.idleSeconds)}`);
  if (m.pinned) bits.push('pinned');
  return bits.join(' · ');
}

/** "last seen 15:30:02, 42 s ago" (or "never seen"), against `now` in ms. */
export function lastSeenText(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return 'not heard from';
  const ago = Math.max(0, (now - t) / 1000);
  return `last seen ${formatClock(iso)}, ${formatDuration(ago)} ago`;
}

/** The choices of the "Where" field; none (the field stays hidden) unless two or more nodes are up. */
export function targetOptions(summary) {
  if (!summary || summary.up.length < 2) return [];
  return [
    { value: '', label: 'Best node (most memory free)' },
    ...summary.up.map((name) => ({ value: name, label: name === summary.self ? `${name} (this node)` : name })),
    { value: ALL_NODES, label: `All nodes (${summary.up.length})` },
  ];
}

/** What "Will load … " adds for a target: "" (best node), " on all nodes", " on gpu-b". */
export function targetText(target) {
  if (!target) return '';
  return target === ALL_NODES ? ' on all nodes' : ` on ${target}`;
}

/** The body of POST /api/llm/load: best node sends no node field, a node `node`, all `nodes: "all"`. */
export function loadRequest(modelName, target = '') {
  const body = { model_name: modelName };
  if (target === ALL_NODES) body.nodes = 'all';
  else if (target) body.node = target;
  return body;
}

/**
 * One row per child of a multi-node parent: {node, operation_id, status, label, progress, message}.
 * A child the page follows live (`lookup(id)` → the operation) is shown as it is now; otherwise as
 * the parent last told.
 */
export function childRows(op, lookup = () => null) {
  if (!isParent(op)) return [];
  return op.children.filter((c) => c && typeof c === 'object').map((c) => {
    const live = c.operation_id ? lookup(c.operation_id) : null;
    const src = live || c;
    const info = statusInfo(src);
    const error = src.error && typeof src.error === 'object' ? src.error : null;
    return {
      node: str(c.node) || str(src.node) || '?',
      operation_id: str(c.operation_id),
      status: info.status,
      label: info.label,
      progress: clampPercent(src.progress),
      message: info.status === 'error' && error && error.message ? error.message : (str(src.message) || ''),
    };
  });
}

/** The short node tag of an operation in the list: "on gpu-b", or "on 3 nodes" for a parent. */
export function nodeTag(op) {
  if (isParent(op)) return `on ${op.children.length} node${op.children.length === 1 ? '' : 's'}`;
  return op && str(op.node) ? `on ${op.node}` : '';
}
