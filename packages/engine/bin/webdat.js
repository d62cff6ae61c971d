#!/usr/bin/env node
// Plain JavaScript so the bin works before and after a build; the CLI itself is compiled TypeScript.
import { main } from '../dist/cli.js';

await main(process.argv);
