// Hoist dashboard: wires the live store, the picker, the list and the progress modal together.
// Modules (no framework, no build): js/api.js REST client · js/live.js WebSocket + polling store ·
// js/format.js pure helpers · js/modal.js progress modal · js/chart.js throughput chart ·
// js/terminal.js log view · js/operations.js list · js/picker.js model picker · js/notify.js ·
// js/history.js + js/timeline.js history and statistics · js/views.js the Live / History tabs ·
// js/auth.js + js/tokendialog.js the API token (asked for when the server refuses a request) ·
// js/fleet.js + js/fleetview.js the Fleet panel (GET /api/llm/nodes) and where a load goes.

import { api, access, wsUrl, ApiError } from './js/api.js';
import { TokenDialog } from './js/tokendialog.js';
import { Capabilities, classifyAnswer } from './js/capabilities.js';
import { LiveStore } from './js/live.js';
import { ProgressModal } from './js/modal.js';
import { OperationsList } from './js/operations.js';
import { ModelPicker } from './js/picker.js';
import { setupNotifications } from './js/notify.js';
import { HistoryView } from './js/history.js';
import { SchedulesView } from './js/schedules.js';
import { setupViews } from './js/views.js';
import { FleetPanel } from './js/fleetview.js';
import { loadRequest } from './js/fleet.js';
import { byId, hydrateIcons, setText, setAttr, announce } from './js/dom.js';
import { statusInfo, clampPercent } from './js/format.js';

hydrateIcons();

// A function, so each (re)connect carries the token accepted by then.
const store = new LiveStore({ url: () => wsUrl() });
const caps = new Capabilities();

/**
 * Starts a load and returns its operation id (fetching the operation at once for a quick first
 * paint). target: "" (best node, or outside a fleet), a node name, or all nodes (fleet.js).
 */
async function startLoad(modelName, target = '') {
  const res = await api.load(loadRequest(modelName, target));
  if (!res || !res.operation_id) {
    throw new ApiError(200, 'bad_response', 'The server accepted the load but sent no operation id.');
  }
  store.refresh(res.operation_id).catch(() => {});
  return res.operation_id;
}

const actions = {
  /** The retry endpoint when the server has it; otherwise (or if the operation is gone) a new load. */
  async retry(op) {
    if (caps.state.retry !== 'absent') {
      try {
        const res = await api.retry(op.operation_id);
        caps.learn('retry', null);
        const id = (res && res.operation_id) || op.operation_id;
        store.refresh(id).catch(() => {});
        return id;
      } catch (err) {
        caps.learn('retry', err, op.operation_id);
        if (err.status !== 404 && caps.state.retry !== 'absent') throw err;
      }
    }
    return startLoad(op.model_name);
  },

  async cancel(op) {
    try {
      await api.cancel(op.operation_id);
      caps.learn('cancel', null);
    } catch (err) {
      if (err.status === 409) return; // it finished meanwhile; the update shows how
      if (classifyAnswer(err, op.operation_id) === 'absent') {
        caps.set('cancel', 'absent');
        throw new ApiError(err.status, err.code, 'This server cannot cancel loads.');
      }
      throw err;
    } finally {
      store.refresh(op.operation_id).catch(() => {});
    }
  },

  async remove(op) {
    try {
      await api.deleteOperation(op.operation_id);
    } catch (err) {
      if (err.status === 409) throw new ApiError(409, err.code, 'It is still running; only finished operations can be removed.');
      if (err.status !== 404) throw err; // 404: already gone, which is what was asked
    }
    store.forget(op.operation_id);
  },
};

// Opens the modal on an operation; the fleet panel's rows use it before the modal exists.
let openOperation = () => {};
const fleet = new FleetPanel({ api, store, open: (id, opener) => openOperation(id, opener) });

const modal = new ProgressModal({ store, caps, actions, fleet });
openOperation = (id, opener) => modal.open(id, opener);

new OperationsList({
  store,
  fleet,
  handlers: {
    open: (id, opener) => modal.open(id, opener),
    remove: (op) => actions.remove(op),
  },
});

const picker = new ModelPicker({
  api,
  caps,
  startLoad,
  fleet,
  onStarted: (id, name, opener) => modal.open(id, opener, name),
});

setupNotifications({ store, onActivate: (id) => modal.open(id, null) });

const historyView = new HistoryView({ api, store });
setupViews({
  onShow: (view) => {
    historyView.show(view === 'history');
    if (view === 'live') fleet.refresh(); // the panel was not asked about while hidden
  },
});

// ---------------------------------------------------------------- connection indicator

const MODES = {
  connecting: { label: 'Connecting…', title: 'Connecting to the Hoist server' },
  live: { label: 'Live', title: 'Live updates over a WebSocket' },
  locked: { label: 'Token needed', title: 'This Hoist server needs its API token. Use "Enter API token".' },
  polling: { label: 'Polling', title: 'The WebSocket is unavailable, so the page asks for changes every second. It switches back by itself.' },
  offline: { label: 'Offline', title: 'The Hoist server cannot be reached. Retrying…' },
};

// ---------------------------------------------------------------- API token

const tokenDialog = new TokenDialog({
  access,
  // The open WebSocket was let in with the token: start over without it.
  onForget: () => {
    store.stop();
    store.start();
  },
  // "Enter API token" after a Cancel: read again, which asks for it.
  onEnter: () => {
    store.reconnectNow();
    store.syncList().catch(() => {});
    picker.refresh();
    schedules.refresh();
    fleet.refresh();
  },
});
// A token just accepted: the WebSocket tries again at once, now with it.
access.addEventListener('accepted', () => {
  store.reconnectNow();
  fleet.refresh(); // the panel's first ask may have been refused for want of it
});

const connection = byId('connection-status');
function renderMode() {
  const m = MODES[store.mode] || MODES.connecting;
  connection.dataset.state = store.mode;
  setText(connection.querySelector('.connection-label'), m.label);
  setAttr(connection, 'title', m.title);
}

let lastMode = store.mode;
store.addEventListener('mode', () => {
  renderMode();
  tokenDialog.setLocked(store.mode === 'locked');
  // Back from offline (or a missing token): what failed meanwhile (catalog, capability probes) is asked again.
  if ((lastMode === 'offline' || lastMode === 'locked') && (store.mode === 'live' || store.mode === 'polling')) {
    picker.refresh();
    caps.probeUnknown();
  }
  lastMode = store.mode;
});
renderMode();

// ---------------------------------------------------------------- side effects of changes

let catalogTimer = 0;
store.addEventListener('change', (e) => {
  const { op, prev } = e.detail;
  if (!op || !prev || op.status === prev.status) return;
  const info = statusInfo(op);
  if (!info.finished) return;
  // Downloaded and loaded badges changed: read the catalog again (once for a burst of changes).
  clearTimeout(catalogTimer);
  catalogTimer = setTimeout(() => {
    picker.refresh();
    schedules.refresh();
  }, 300);
  if (modal.id !== op.operation_id) {
    const name = op.model_name || 'A model';
    announce(op.status === 'completed' ? `${name} is loaded.` : op.status === 'error' ? `${name} failed to load.` : `${name}: ${info.label}.`);
  }
});

// The tab title tells how a load is going while the tab is in the background.
let titleFrame = 0;
store.addEventListener('change', () => {
  if (titleFrame) return;
  titleFrame = requestAnimationFrame(() => {
    titleFrame = 0;
    const running = store.list().filter((op) => !statusInfo(op).finished);
    document.title = running.length === 1
      ? `${clampPercent(running[0].progress)}% ${running[0].model_name || ''} · Hoist`
      : running.length > 1 ? `${running.length} loads running · Hoist` : 'Hoist';
  });
});

// Keep-alive unloads a model on its own: the picker's loaded badge must follow.
store.addEventListener('model', () => picker.refresh());

const schedules = new SchedulesView({ api });

store.start();
picker.refresh();
fleet.start();
schedules.refresh();
caps.probeUnknown();
