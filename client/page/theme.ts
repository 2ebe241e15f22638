import { loadTheme, saveTheme, type Theme } from './prefs'

/** System, light or dark: the stylesheet follows the root's data-theme (system leaves it to the browser). */
export function applyTheme(theme: Theme = loadTheme()): void {
  if (theme === 'system') delete document.documentElement.dataset.theme
  else document.documentElement.dataset.theme = theme
}

/** Binds a Theme select: it shows the current choice and switches (and remembers) on change. */
export function bindThemeSelect(select: HTMLSelectElement): void {
  select.value = loadTheme()
  select.addEventListener('change', () => {
    const theme = select.value as Theme
    saveTheme(theme)
    applyTheme(theme)
  })
}
