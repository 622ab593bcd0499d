// node --test src/test/js/   (the fleet view's pure logic: nodes summarised, the load request built)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_NODES, summarizeFleet, showsNodes, resourcesText, loadedText, lastSeenText, targetOptions, targetText,
  loadRequest, childRows, nodeTag, isParent,
} from '../../../webroot/js/fleet.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

const fleetBody = {
  self: 'a',
  clustered: true,
  nodes: [
    { node: 'a', status: 'up', self: true, last_seen: '2026-11-28T15:30:00Z', started_at: '2026-11-28T15:00:00Z',
      resources: { memory_available_bytes: 12 * GiB, memory_free_for_models_bytes: 512 * MiB, memory_limit_bytes: 512 * MiB,
        disk_free_bytes: 80 * GiB },
      loaded_models: [{ model_key: 'hoist/demo-tiny@abc', repo: 'hoist/demo-tiny', bytes_resident: 16 * MiB, idle_seconds: 12 }],
      active_operations: 1 },
    { node: 'b', status: 'lost', self: false, last_seen: '2026-11-28T15:29:00Z', resources: {}, loaded_models: [], active_operations: 0 },
    { node: 'c', status: 'up', self: false, last_seen: '2026-11-28T15:30:00Z', resources: { disk_free_bytes: GiB },
      loaded_models: [], active_operations: 0 },
  ],
};

const ops = [
  { operation_id: '1', model_name: 'demo-tiny', node: 'a', status: 'downloading', progress: 33.4 },
  { operation_id: '2', model_name: 'demo-gguf', node: 'a', status: 'completed', progress: 100 },
  { operation_id: '3', model_name: 'demo-sharded', node: 'c', status: 'queued', progress: 0 },
  { operation_id: 'p', model_name: 'demo-sharded', node: 'a', status: 'loading', progress: 50,
    children: [{ node: 'a', operation_id: '4' }, { node: 'c', operation_id: '3' }] },
];

test('summarizeFleet keeps the server order, marks self and lost, and files active operations under their node', () => {
  const s = summarizeFleet(fleetBody, ops);
  assert.equal(s.clustered, true);
  assert.equal(s.self, 'a');
  assert.equal(s.multi, true);
  assert.deepEqual(s.nodes.map((n) => n.name), ['a', 'b', 'c']);
  assert.deepEqual(s.up, ['a', 'c']);
  assert.deepEqual(s.lost, ['b']);
  const [a, b, c] = s.nodes;
  assert.equal(a.self, true);
  assert.equal(b.lost, true);
  assert.equal(b.status, 'lost');
  assert.equal(a.memoryLimit, 512 * MiB);
  assert.equal(c.memoryAvailable, null);
  assert.deepEqual(a.loaded, [{ repo: 'hoist/demo-tiny', bytes: 16 * MiB, idleSeconds: 12, pinned: false }]);
  // finished operations and the parent are left out; the parent's children are counted where they run
  assert.deepEqual(a.active.map((o) => [o.operation_id, o.status, o.progress]), [['1', 'downloading', 33]]);
  assert.deepEqual(c.active.map((o) => o.operation_id), ['3']);
  assert.deepEqual(b.active, []);
});

test('summarizeFleet of a single node outside a cluster, and of nothing', () => {
  const one = summarizeFleet({ self: 'host', clustered: false, nodes: [{ node: 'host', status: 'up', self: true, resources: {}, loaded_models: [] }] });
  assert.equal(one.clustered, false);
  assert.equal(one.multi, false);
  assert.deepEqual(one.up, ['host']);
  assert.deepEqual(targetOptions(one), []);
  const none = summarizeFleet(null);
  assert.deepEqual(none.nodes, []);
  assert.equal(none.self, null);
  assert.equal(none.multi, false);
});

test('showsNodes when the fleet has more than one node, or the operations come from several', () => {
  assert.equal(showsNodes(summarizeFleet(fleetBody)), true);
  const single = summarizeFleet({ self: 'x', nodes: [{ node: 'x', status: 'up' }] });
  assert.equal(showsNodes(single, [{ node: 'x' }, { node: 'x' }]), false);
  assert.equal(showsNodes(single, [{ node: 'x' }, { node: 'y' }]), true);
  assert.equal(showsNodes(null, []), false);
});

test('resources, loaded models and last seen read as short lines', () => {
  const [a, b, c] = summarizeFleet(fleetBody).nodes;
  assert.equal(resourcesText(a), '12 GiB memory available · 512 MiB free for models · limit 512 MiB · 80 GiB disk free');
  assert.equal(resourcesText(b), '');
  assert.equal(resourcesText(c), '1 GiB disk free');
  assert.equal(loadedText(a.loaded[0]), 'hoist/demo-tiny · 16 MiB · idle 12 s');
  assert.equal(loadedText({ repo: 'r', bytes: null, idleSeconds: null, pinned: true }), 'r · pinned');
  const seen = lastSeenText('2026-11-28T15:29:00Z', Date.parse('2026-11-28T15:30:30Z'));
  assert.match(seen, /^last seen \d\d:\d\d:\d\d, 1 m 30 s ago$/);
  assert.equal(lastSeenText(null), 'not heard from');
});

test('targetOptions: best node first, then each node that is up (self marked), then all nodes', () => {
  const opts = targetOptions(summarizeFleet(fleetBody));
  assert.deepEqual(opts, [
    { value: '', label: 'Best node (most memory free)' },
    { value: 'a', label: 'a (this node)' },
    { value: 'c', label: 'c' },
    { value: ALL_NODES, label: 'All nodes (2)' },
  ]);
  // one node up (the other lost): nothing to choose
  assert.deepEqual(targetOptions(summarizeFleet({ self: 'a', nodes: [fleetBody.nodes[0], fleetBody.nodes[1]] })), []);
});

test('loadRequest: best node sends no node field, a node sends node, all sends nodes: "all"', () => {
  assert.deepEqual(loadRequest('demo-tiny'), { model_name: 'demo-tiny' });
  assert.deepEqual(loadRequest('demo-tiny', ''), { model_name: 'demo-tiny' });
  assert.deepEqual(loadRequest('demo-tiny', 'gpu-b'), { model_name: 'demo-tiny', node: 'gpu-b' });
  assert.deepEqual(loadRequest('demo-tiny', ALL_NODES), { model_name: 'demo-tiny', nodes: 'all' });
  assert.equal(targetText(''), '');
  assert.equal(targetText('gpu-b'), ' on gpu-b');
  assert.equal(targetText(ALL_NODES), ' on all nodes');
});

test('childRows: one row per child, live when the page follows the child, else as the parent told', () => {
  const parent = {
    operation_id: 'p', status: 'downloading', children: [
      { node: 'a', operation_id: 'ca', status: 'downloading', progress: 20, message: 'old' },
      { node: 'b', operation_id: 'cb', status: 'error', progress: 40, message: 'x', error: { code: 'node_lost', message: 'node b lost' } },
    ],
  };
  const live = { ca: { operation_id: 'ca', node: 'a', status: 'completed', progress: 100, message: 'Loaded' } };
  const rows = childRows(parent, (id) => live[id] || null);
  assert.deepEqual(rows, [
    { node: 'a', operation_id: 'ca', status: 'completed', label: 'Completed', progress: 100, message: 'Loaded' },
    { node: 'b', operation_id: 'cb', status: 'error', label: 'Failed', progress: 40, message: 'node b lost' },
  ]);
  assert.deepEqual(childRows({ operation_id: 'x', status: 'loading' }), []);
  assert.equal(isParent(parent), true);
});

test('nodeTag names the node, or how many nodes a parent spans', () => {
  assert.equal(nodeTag({ node: 'gpu-b' }), 'on gpu-b');
  assert.equal(nodeTag({ node: 'a', children: [{}, {}, {}] }), 'on 3 nodes');
  assert.equal(nodeTag({}), '');
});
