// controls.js - the settings form, built from the server's own parameter
// description (GET /api/v1/params, written by orf_params_describe from the
// table the server validates with), so the controls' types, ranges,
// defaults and the modes each applies to can never disagree with it.
//
// The form does not clamp or refuse values itself: what is typed is sent,
// and the server's 422 (which names the parameter) is shown next to that
// control.  The ranges are shown as hints and as min/max for the spinners.

import { clearError, showError } from './errors.js';

// Friendlier labels for some names; any other name is spelt out from itself.
const LABELS = {
  mode: 'What to make',
  size_mm: 'Size, longest side',
  max_faces: 'Face budget',
  base_mm: 'Base thickness',
  bevel_mm: 'Bevel',
  border_mm: 'Border',
  depth_mm: 'Depth',
  relief_mm: 'Relief height',
  min_mm: 'Thinnest',
  max_mm: 'Thickest',
  cutout: 'Cut out the plate',
  invert: 'Invert',
  smooth: 'Smoothing',
};
// Where each control goes: the main four first, the mode's own, then advanced.
const MAIN = ['mode', 'format', 'quality', 'size_mm', 'style'];

function labelOf(name) {
  if (LABELS[name]) return LABELS[name];
  const words = name.replace(/_mm$/, '').replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function fmt(n) {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}

function rangeText(p) {
  const unit = p.name.endsWith('_mm') ? ' mm' : '';
  if (p.type === 'int' || p.type === 'number') return `${fmt(p.min)} to ${fmt(p.max)}${unit}`;
  return '';
}

function makeInput(p, id) {
  let el;
  if (p.type === 'enum') {
    el = document.createElement('select');
    for (const c of p.choices) {
      const o = document.createElement('option');
      o.value = c;
      // a value's own one-line help where the server gives one (background)
      o.textContent = p.choice_help?.[c] ? `${c}: ${p.choice_help[c]}` : c;
      el.append(o);
    }
    el.value = p.default;
  } else if (p.type === 'bool') {
    el = document.createElement('input');
    el.type = 'checkbox';
    el.checked = !!p.default;
  } else {
    el = document.createElement('input');
    el.type = 'number';
    el.inputMode = p.type === 'int' ? 'numeric' : 'decimal';
    el.min = String(p.min);
    el.max = String(p.max);
    el.step = p.type === 'int' ? '1' : 'any';
    if (p.default === null || p.default === undefined) el.placeholder = 'automatic';
    else el.value = fmt(p.default);
  }
  el.id = id;
  el.name = p.name;
  return el;
}

// One labelled field: the input, its hint (help and range) and its error line.
function makeField(p, sizePresets) {
  const id = `p-${p.name}`;
  const field = document.createElement('div');
  field.className = `field field-${p.type}`;
  field.dataset.param = p.name;
  const input = makeInput(p, id);
  const label = document.createElement('label');
  label.htmlFor = id;
  label.textContent = labelOf(p.name);
  const hint = document.createElement('p');
  hint.className = 'hint';
  hint.id = `${id}-hint`;
  // the help, with the range unless the help already gives it
  const range = rangeText(p);
  const said = range && p.help.includes(fmt(p.min)) && p.help.includes(fmt(p.max));
  hint.textContent = range && !said ? `${p.help} (${range})` : p.help;
  if (hint.textContent.toLowerCase() === label.textContent.toLowerCase()) hint.textContent = '';
  const error = document.createElement('p');
  error.className = 'error';
  error.id = `${id}-error`;
  error.dataset.for = id;
  error.setAttribute('aria-live', 'polite');
  input.setAttribute('aria-describedby', `${hint.id} ${error.id}`);
  if (p.type === 'bool') {
    label.prepend(input);
    label.className = 'check';
    field.append(label);
  } else {
    field.append(label, input);
  }
  if (p.name === 'size_mm' && sizePresets) field.append(presetButtons(input, sizePresets));
  field.append(hint, error);
  return { field, input };
}

function presetButtons(input, presets) {
  const group = document.createElement('div');
  group.className = 'presets';
  group.setAttribute('role', 'group');
  group.setAttribute('aria-label', 'Size presets');
  for (const [name, mm] of Object.entries(presets)) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `${name} ${mm} mm`;
    b.addEventListener('click', () => {
      input.value = String(mm);
      input.dispatchEvent(new Event('change', { bubbles: true }));
    });
    group.append(b);
  }
  return group;
}

// Builds the controls into container from the description; returns
// { values(), mode(), fieldOf(name), onChange(fn) }.
export function buildControls(container, desc) {
  const params = [...desc.params];
  // precision is the server's own parameter; `download` makes no sense here
  for (const sp of desc.server_params || []) if (sp.name !== 'download') params.push({ ...sp, modes: [], server: true });
  const byName = new Map(params.map((p) => [p.name, p]));
  const inputs = new Map();
  container.replaceChildren();

  const main = document.createElement('div');
  main.className = 'group main';
  const modeBox = document.createElement('fieldset');
  modeBox.className = 'mode-group';
  const modeLegend = document.createElement('legend');
  const modeGrid = document.createElement('div');
  modeGrid.className = 'group';
  modeBox.append(modeLegend, modeGrid);
  const advanced = document.createElement('details');
  advanced.className = 'advanced';
  const summary = document.createElement('summary');
  summary.textContent = 'Advanced';
  const advancedGrid = document.createElement('div');
  advancedGrid.className = 'group';
  advanced.append(summary, advancedGrid);

  const allModes = byName.get('mode')?.choices || [];
  for (const name of MAIN) {
    const p = byName.get(name);
    if (!p) continue;
    const { field, input } = makeField(p, desc.size_presets);
    inputs.set(name, input);
    main.append(field);
  }
  for (const p of params) {
    // subject_points are set by clicking the subject preview (points.js)
    if (MAIN.includes(p.name) || p.type === 'points') continue;
    const { field, input } = makeField(p, null);
    inputs.set(p.name, input);
    const everyMode = !p.modes.length || allModes.every((m) => p.modes.includes(m));
    (everyMode ? advancedGrid : modeGrid).append(field);
  }
  container.append(main, modeBox, advanced);

  const mode = () => inputs.get('mode')?.value || allModes[0];
  const applies = (p) => !p.modes.length || p.modes.includes(mode());
  const update = () => {
    let shown = 0;
    for (const field of modeBox.querySelectorAll('.field')) {
      const on = applies(byName.get(field.dataset.param));
      field.hidden = !on;
      shown += on;
    }
    modeLegend.textContent = `${mode().charAt(0).toUpperCase()}${mode().slice(1)} settings`;
    modeBox.hidden = shown === 0;
  };
  inputs.get('mode')?.addEventListener('change', update);
  update();

  // Typing again clears that control's error.
  for (const input of inputs.values()) input.addEventListener('input', () => clearError(input.id));

  return {
    // The parameters to send: every control that applies to the mode;
    // an empty optional number (no default) is left out.
    values() {
      const out = {};
      for (const [name, input] of inputs) {
        const p = byName.get(name);
        if (!applies(p)) continue;
        if (p.type === 'bool') out[name] = input.checked ? 'true' : 'false';
        else if (input.value.trim() === '' && (p.default === null || p.default === undefined)) continue;
        else out[name] = input.value.trim();
      }
      return out;
    },
    mode,
    has: (name) => inputs.has(name),
    // Shows only the controls named (a mesh's repair takes a few of them);
    // null shows them all again, the mode's as the mode says.
    limitTo(names) {
      const only = names ? new Set(names) : null;
      for (const field of container.querySelectorAll('.group.main .field, .advanced .field')) field.hidden = !!only && !only.has(field.dataset.param);
      advanced.hidden = !!only && ![...advanced.querySelectorAll('.field')].some((f) => !f.hidden);
      if (only) modeBox.hidden = true;
      else update();
    },
    // Shows message next to the control for name; false when there is none.
    showError(name, message) {
      const input = inputs.get(name);
      if (!input) return false;
      if (input.closest('details')) input.closest('details').open = true;
      showError(input.id, message);
      return true;
    },
    clearErrors() {
      for (const input of inputs.values()) clearError(input.id);
    },
    onChange(name, fn) {
      inputs.get(name)?.addEventListener('change', fn);
    },
  };
}
