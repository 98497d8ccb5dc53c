for (let i = 1; i <= 30; i++) console.log(`fixture line ${i}`);
console.error('fixture error: broken');
process.exit(1);
