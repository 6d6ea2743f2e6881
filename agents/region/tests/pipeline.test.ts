import { startHarness } from './harness.ts';
import { describePipeline } from './pipeline-suite.ts';

describePipeline('embedded defaults', () => startHarness());
