import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  // No browser is launched by this API-level test; a UI test would add projects with browsers.
  reporter: 'list',
});
