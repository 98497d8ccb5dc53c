await new Promise((resolve) => setTimeout(resolve, 300));
await import('./write.mjs');
