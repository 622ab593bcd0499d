// Pure helpers: units, durations, statuses, stages, log lines. No DOM here, so node can test it.

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function isNum(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

function trimZeros(s) {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** 1536 → "1.5 KiB"; binary units, about three significant digits. */
export function formatBytes(n) {
  if (!isNum(n) || n < 0) return '—';
  if (n < 1000) return `${Math.round(n)} B`;
  let v = n;
  let i = 0;
  while (v >= 1000 && i < BYTE_UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${trimZeros(v.toFixed(digits))} ${BYTE_UNITS[i]}`;
}

/** Bytes per second → "12.3 MiB/s"; unknown → "—". */
export function formatRate(bps) {
  return isNum(bps) && bps >= 0 ? `${formatBytes(bps)}/s` : '—';
}

/** Seconds → "45 s", "1 m 12 s", "2 h 5 m", "1 d 3 h"; unknown → "—". */
export function formatDuration(seconds) {
  if (!isNum(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (d) return h ? `${d} d ${h} h` : `${d} d`;
  if (h) return m ? `${h} h ${m} m` : `${h} h`;
  return rest ? `${m} m ${rest} s` : `${m} m`;
}

/** 1234567 → "1.23 M" (parameter counts and other large plain numbers). */
export function formatCount(n) {
  if (!isNum(n)) return '—';
  const steps = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']];
  for (const [size, suffix] of steps) {
    if (Math.abs(n) >= size) {
      const v = n / size;
      const digits = v < 10 ? 2 : v < 100 ? 1 : 0;
      return `${trimZeros(v.toFixed(digits))} ${suffix}`;
    }
  }
  return String(Math.round(n));
}

/** 1234567 → "1,234,567". */
export function formatInteger(n) {
  return isNum(n) ? Math.round(n).toLocaleString('en-US') : '—';
}

export function clampPercent(p) {
  return isNum(p) ? Math.max(0, Math.min(100, Math.round(p))) : 0;
}

/** An ISO time → local "15:30:02", or "" when unparsable. */
export function formatClock(iso) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const d = new Date(t);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((x) => String(x).padStart(2, '0')).join(':');
}

// ------------------------------------------------------------------ statuses and stages

const STATUSES = {
  queued: { label: 'Queued', finished: false, moving: false },
  initializing: { label: 'Initializing', finished: false, moving: true },
  downloading: { label: 'Downloading', finished: false, moving: true },
  loading: { label: 'Loading', finished: false, moving: true },
  finalizing: { label: 'Finalizing', finished: false, moving: true },
  completed: { label: 'Completed', finished: true, moving: false },
  error: { label: 'Failed', finished: true, moving: false },
  cancelled: { label: 'Cancelled', finished: true, moving: false },
};

/**
 * What the page shows for an operation's status. An unknown status from a newer server is shown
 * as it is, neutral, and counted as unfinished unless it says otherwise later.
 */
export function statusInfo(op) {
  const status = (op && op.status) || 'unknown';
  const known = STATUSES[status];
  const stalled = !!(op && op.stage && op.stage.stalled === true) && !(known && known.finished);
  const base = known ? known.label : status.charAt(0).toUpperCase() + status.slice(1);
  return {
    status,
    label: stalled ? `${base} · stalled` : base,
    finished: known ? known.finished : false,
    // Stripes move only while work is really under way.
    moving: known ? known.moving && !stalled : false,
    stalled,
  };
}

export function isFinished(op) {
  return statusInfo(op).finished;
}

/** The place of a queued operation: "#2 in the queue" (1 is next), or "" when not queued. */
export function queueText(op) {
  if (!op || op.status !== 'queued' || !isNum(op.queue_position) || op.queue_position < 1) return '';
  return op.queue_position === 1 ? 'next in the queue' : `#${Math.round(op.queue_position)} in the queue`;
}

/** The label of a status pill: the status, with the queue position of a queued operation. */
export function statusLabel(op) {
  const info = statusInfo(op);
  const pos = op && op.status === 'queued' && isNum(op.queue_position) && op.queue_position >= 1 ? op.queue_position : null;
  return pos ? `${info.label} #${Math.round(pos)}` : info.label;
}

/** "attempt 2" for a retried operation; "" for the first run. */
export function attemptText(op) {
  return op && isNum(op.attempt) && op.attempt > 1 ? `attempt ${Math.round(op.attempt)}` : '';
}

/** Seconds with a decimal below ten ("0.4 s", "8.9 s"), else like formatDuration. */
export function formatSeconds(seconds) {
  if (!isNum(seconds) || seconds < 0) return '—';
  if (seconds < 9.95) return `${seconds < 0.05 && seconds > 0 ? '<0.1' : seconds.toFixed(1).replace(/\.0$/, '')} s`;
  return formatDuration(seconds);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** An ISO time → local "28 Nov 15:30", or "" when unparsable. */
export function formatDateTime(iso) {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '';
  const d = new Date(t);
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${formatClock(iso).slice(0, 5)}`;
}

export const STAGES = [
  { name: 'initializing', label: 'Initializing', icon: 'power' },
  { name: 'downloading', label: 'Downloading', icon: 'download' },
  { name: 'loading', label: 'Loading', icon: 'chip' },
  { name: 'finalizing', label: 'Finalizing', icon: 'shield' },
  { name: 'completed', label: 'Completed', icon: 'flag' },
];

const STAGE_INDEX = Object.fromEntries(STAGES.map((s, i) => [s.name, i]));

/** The stage a progress value falls in, by the seed's bands (0–5, 10–60, 60–85, 85–95, 100). */
export function stageForProgress(progress) {
  const p = isNum(progress) ? progress : 0;
  if (p < 10) return 'initializing';
  if (p < 60) return 'downloading';
  if (p < 85) return 'loading';
  return 'finalizing';
}

/**
 * Each stage's state for the indicator: "done", "current", "failed", "stopped" (cancelled) or
 * "pending". A failed operation is marked at the stage it was in (its stage name, or else where
 * its progress stopped).
 */
export function stageStates(op) {
  const status = op && op.status;
  let at;
  let mark = 'current';
  if (status === 'completed') {
    return STAGES.map((s) => ({ ...s, state: 'done' }));
  } else if (status === 'error' || status === 'cancelled') {
    const named = op.stage && op.stage.name;
    at = named in STAGE_INDEX && named !== 'completed' ? STAGE_INDEX[named] : STAGE_INDEX[stageForProgress(op.progress)];
    mark = status === 'error' ? 'failed' : 'stopped';
  } else if (status in STAGE_INDEX) {
    at = STAGE_INDEX[status];
  } else {
    at = -1; // queued or unknown: nothing started yet
  }
  return STAGES.map((s, i) => ({ ...s, state: i < at ? 'done' : i === at ? mark : 'pending' }));
}

// ------------------------------------------------------------------ log lines

/** "15:30:02 WARN retrying …" → {time: "15:30:02", text: "WARN retrying …", level: "warn"}. */
export function parseLogLine(line) {
  const s = String(line);
  const m = /^(\d{2}:\d{2}:\d{2}) (.*)$/s.exec(s);
  const padded = ` ${s} `;
  const level = padded.includes(' ERROR ') ? 'error' : padded.includes(' WARN ') ? 'warn' : 'info';
  return m ? { time: m[1], text: m[2], level } : { time: '', text: s, level };
}

/**
 * Adds the lines of a (possibly sliding) server log window to what the page has gathered: the
 * longest tail of `seen` that starts `incoming` is the overlap, the rest is new. Keeps at most `cap`.
 */
export function mergeLogs(seen, incoming, cap = 5000) {
  if (!Array.isArray(incoming) || incoming.length === 0) return seen || [];
  if (!seen || seen.length === 0) return incoming.slice(-cap);
  let overlap = 0;
  for (let k = Math.min(seen.length, incoming.length); k > 0; k--) {
    let same = true;
    for (let j = 0; j < k; j++) {
      if (seen[seen.length - k + j] !== incoming[j]) {
        same = false;
        break;
      }
    }
    if (same) {
      overlap = k;
      break;
    }
  }
  if (overlap === incoming.length) return seen;
  const merged = seen.concat(incoming.slice(overlap));
  return merged.length > cap ? merged.slice(merged.length - cap) : merged;
}

export function countLevels(lines) {
  let warn = 0;
  let error = 0;
  for (const line of lines) {
    const level = parseLogLine(line).level;
    if (level === 'warn') warn++;
    else if (level === 'error') error++;
  }
  return { warn, error };
}

// ------------------------------------------------------------------ misc

/** What the user typed as a model: an alias, "owner/name" or "owner/name@revision". */
export function parseModelInput(raw) {
  const value = String(raw || '').trim();
  if (!value) return { ok: false, empty: true };
  if (/\s/.test(value)) {
    return { ok: false, error: 'A repo id has no spaces: use owner/name or owner/name@revision.' };
  }
  if (value.startsWith('/') || value.endsWith('/') || value.includes('//')) {
    return { ok: false, error: 'That does not look like a repo id: use owner/name or owner/name@revision.' };
  }
  return { ok: true, value };
}

/** "hoist/demo-tiny@main" (with a short commit when known). */
export function repoLabel(op) {
  if (!op || !op.repo) return '';
  const rev = op.revision ? `@${op.revision}` : '';
  return `${op.repo}${rev}`;
}

/** "F16 × 3, F32 × 2" from {"F16":3,"F32":2}. */
export function formatDtypes(dtypes) {
  if (!dtypes || typeof dtypes !== 'object') return '—';
  const parts = Object.entries(dtypes).map(([k, v]) => (isNum(v) ? `${k} × ${v}` : k));
  return parts.length ? parts.join(', ') : '—';
}

/** A file name safe to download as: letters, digits, dot, dash, underscore. */
export function safeFileName(s) {
  return String(s || 'log').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'log';
}

const ERROR_HINTS = {
  model_not_found: 'Check the name, or type a hub repo id such as owner/name.',
  invalid_model_name: 'Use a catalog name, owner/name or owner/name@revision.',
  gated_repo: 'This repo needs approved access on the hub and a token configured for Hoist.',
  insufficient_disk: 'Free some disk space where Hoist keeps its cache, then retry.',
  insufficient_memory: 'The model does not fit in free memory: unload a model or choose a smaller one.',
  checksum_mismatch: 'A downloaded file did not match its checksum; retrying fetches it again.',
  invalid_model_file: 'A model file could not be read; this repo may not hold a model Hoist can load.',
  no_model_files: 'The repo has no model files Hoist can load.',
  hub_unreachable: 'The hub could not be reached: check the network and the hub address, then retry.',
  hub_error: 'The hub answered with an error; retrying may help.',
  timed_out: 'A step took too long; retrying may help.',
  service_unavailable: 'A Hoist service is not running or is busy; try again in a moment.',
  operation_active: 'The operation is still running.',
  network_error: 'The page could not reach the Hoist server.',
};

/** A short "what to do" for an error code; falls back on whether a retry may help. */
export function errorHint(code, retryable) {
  if (code && ERROR_HINTS[code]) return ERROR_HINTS[code];
  return retryable ? 'Trying again may work.' : '';
}
