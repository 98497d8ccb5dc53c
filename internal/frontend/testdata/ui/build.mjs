import './write.mjs';
