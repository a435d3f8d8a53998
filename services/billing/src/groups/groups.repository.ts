import type { Db } from '../db/database';
import type { GroupRow } from './groups.table';

export async function findGroup(db: Db, id: string): Promise<GroupRow | undefined> {
  return db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
}
