#include "SeedgateSQLiteConfig.h"

// `sqlite3_db_config` takes variable arguments, which Swift cannot call, hence this C function.
// The SQLite linked in is SQLiteNIO's copy, whose functions carry a `sqlite_nio_` prefix; its header is
// internal to that package, so the one declaration and constant used here are repeated from it.
extern int sqlite_nio_sqlite3_db_config(struct sqlite3 *db, int op, ...);
#define SQLITE_DBCONFIG_ENABLE_QPSG 1007

int seedgate_sqlite_enable_qpsg(struct sqlite3 *db) {
    int enabled = 0;
    return sqlite_nio_sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_QPSG, 1, &enabled);
}
