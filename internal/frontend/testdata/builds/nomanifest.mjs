process.argv[2] = 'no-manifest';
await import('./write.mjs');
