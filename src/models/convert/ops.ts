/**
 * Registry of TF op handlers. Const and Placeholder are handled by the converter itself (they need the
 * weights and the graph inputs); everything else is looked up here. To add an op, write an `OpHandler`
 * in the ops-*.ts file of its family and list it in that file's table.
 */
import type { OpHandler } from './graph.js';
import { convOps } from './ops-conv.js';
import { mathOps } from './ops-math.js';
import { shapeOps } from './ops-shape.js';

export const OP_HANDLERS: Readonly<Record<string, OpHandler>> = { ...convOps, ...mathOps, ...shapeOps };

/** TF op names the converter accepts (including the two it handles itself). */
export function supportedOps(): string[] {
  return ['Const', 'Placeholder', ...Object.keys(OP_HANDLERS)].sort();
}
