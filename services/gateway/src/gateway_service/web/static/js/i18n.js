// All text of the app comes from one translation file per language (../i18n/<lang>.json).

export const LANGUAGES = { en: 'English', de: 'Deutsch' };
const KEY = 'rally.lang';
let strings = {};
let lang = 'en';
export const language = () => lang;

export function pickLanguage() {
  const saved = localStorage.getItem(KEY);
  if (saved && LANGUAGES[saved]) return saved;
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGUAGES[base]) return base;
  }
  return 'en';
}

async function load(code) {
  const r = await fetch(`/app/i18n/${code}.json`);
  if (!r.ok) throw new Error(`no translation ${code}`);
  return r.json();
}

export async function setLanguage(code, remember = false) {
  strings = await load(code);  // every language file has every key (a test checks it)
  lang = code;
  if (remember) localStorage.setItem(KEY, code);
  document.documentElement.lang = code;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
}

// t('task.due', {when: '...'}): the text for a key, with {name} placeholders filled in.
export function t(key, params) {
  let s = strings[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
  return s;
}

export function has(key) {
  return key in strings;
}

export function formatDate(iso) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

export function formatBytes(n) {
  return new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(n / (1024 * 1024)) + ' MB';
}
