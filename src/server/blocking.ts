// block / unblock (BLK-*): stored durably before the user is told, never told to the blocked user.
// The dispatcher runs one command at a time per connection, so the store's answer comes before the next.

import { ChatError, ErrorCode } from '../protocol/errors.ts';
import type { Context } from './context.ts';

// block <user>
export async function block(ctx: Context, [user]: readonly string[]): Promise<void> {
  const target = user as string;
  ctx.requireAccount(target);
  ctx.requireOther(target, 'block');
  const set = ctx.state.blockSet(ctx.user);
  if (set.has(target)) throw new ChatError(ErrorCode.AlreadyBlocked, `You already block ${target}`);
  await ctx.state.store.addBlock(ctx.user, target);
  set.add(target);
  ctx.state.delivery.blocksChanged?.(ctx.user, target, true);
  ctx.ok('blocked', { user: target, text: `${target} is blocked` });
}

// unblock <user>
export async function unblock(ctx: Context, [user]: readonly string[]): Promise<void> {
  const target = user as string;
  ctx.requireAccount(target);
  ctx.requireOther(target, 'unblock');
  const set = ctx.state.blocks.get(ctx.user);
  if (!set?.has(target)) throw new ChatError(ErrorCode.NotBlocked, `You do not block ${target}`);
  await ctx.state.store.removeBlock(ctx.user, target);
  set.delete(target);
  ctx.state.delivery.blocksChanged?.(ctx.user, target, false);
  ctx.ok('unblocked', { user: target, text: `${target} is no longer blocked` });
}
