import { describeCrash } from './crash-suite.ts';

describeCrash('embedded defaults', { docs: 10_000 });
