// Package platformsql keeps the platform's own objects inside every tenant
// database (schemas _db9, auth, extensions, the fs9 storage, the data API's
// roles and trigger, ...) as one versioned unit (ARCHITECTURE §7).
//
// Each subsystem contributes a Part: idempotent SQL run by the platform
// superuser. The server composes the parts into a Set; the placement
// driver applies the Set to the golden directory, so new databases are
// born current, and Ensures it once in every other database when its
// instance next starts, so an upgrade of db9 upgrades existing databases
// in place. The version applied is recorded inside the database (a
// comment on schema _db9, which only the platform superuser owns), so a
// branch carries it with the objects.
//
// It does not decide when to run (the placement driver does) and does not
// know what the parts contain.
package platformsql
