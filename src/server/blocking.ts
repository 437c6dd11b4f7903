// block / unblock (BLK-*): stored durably before the user is told, never told to the blocked user.

import { ChatError, ErrorCode } from '../protocol/errors.ts';
import type { Context } from './context.ts';

// block <user>
export function block(ctx: Context, [user]: readonly string[]): void {
  const target = user as string;
  ctx.requireAccount(target);
  ctx.requireOther(target, 'block');
  const set = ctx.state.blockSet(ctx.user);
  if (set.has(target)) throw new ChatError(ErrorCode.AlreadyBlocked, `You already block ${target}`);
  ctx.state.store.addBlock(ctx.user, target);
  set.add(target);
  ctx.ok('blocked', { user: target, text: `${target} is blocked` });
}

// unblock <user>
export function unblock(ctx: Context, [user]: readonly string[]): void {
  const target = user as string;
  ctx.requireAccount(target);
  ctx.requireOther(target, 'unblock');
  const set = ctx.state.blocks.get(ctx.user);
  if (!set?.has(target)) throw new ChatError(ErrorCode.NotBlocked, `You do not block ${target}`);
  ctx.state.store.removeBlock(ctx.user, target);
  set.delete(target);
  ctx.ok('unblocked', { user: target, text: `${target} is no longer blocked` });
}
