import GRDB

/// The catalog's SQLite schema, as GRDB migrations. Each migration also sets `PRAGMA
/// user_version`, which is what an older build reads to refuse a catalog it does not understand.
enum CatalogSchema {
    /// The schema version this build writes and reads.
    static let version = 2
    /// The oldest schema a reader opens as it is: v1 differs only in its full-text index holding
    /// text folded by unicode61 alone (Latin diacritics), which folded queries still match.
    static let oldestReadable = 1

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            // `doc` is an explicit INTEGER PRIMARY KEY because the full-text index refers to rows
            // by rowid, and VACUUM may renumber implicit rowids (it never renumbers this alias).
            // `id` stays the product's key (UNIQUE, target of the images' foreign key).
            try db.execute(sql: """
                CREATE TABLE products(
                    doc INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    name TEXT NOT NULL,
                    description TEXT NOT NULL,
                    category TEXT,
                    category_name TEXT,
                    market TEXT,
                    source TEXT NOT NULL,
                    extra TEXT NOT NULL DEFAULT '{}',
                    fingerprint TEXT,
                    updated_at REAL NOT NULL
                );
                CREATE INDEX products_category ON products(category);
                CREATE INDEX products_market ON products(market);
                CREATE INDEX products_source ON products(source, id);

                CREATE TABLE images(
                    product_id TEXT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
                    image_id TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    key TEXT NOT NULL,
                    sha256 TEXT NOT NULL,
                    width INTEGER NOT NULL,
                    height INTEGER NOT NULL,
                    PRIMARY KEY(product_id, image_id)
                ) WITHOUT ROWID;
                CREATE INDEX images_key ON images(key);
                CREATE INDEX images_sha256 ON images(sha256);

                CREATE VIRTUAL TABLE products_fts USING fts5(
                    name, description,
                    content='products', content_rowid='doc',
                    tokenize='unicode61 remove_diacritics 2'
                );
                CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
                    INSERT INTO products_fts(rowid, name, description)
                    VALUES (new.doc, new.name, new.description);
                END;
                CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
                    INSERT INTO products_fts(products_fts, rowid, name, description)
                    VALUES ('delete', old.doc, old.name, old.description);
                END;
                -- Re-ingesting an unchanged product must not churn the full-text index.
                CREATE TRIGGER products_fts_update AFTER UPDATE OF name, description ON products
                WHEN old.name IS NOT new.name OR old.description IS NOT new.description BEGIN
                    INSERT INTO products_fts(products_fts, rowid, name, description)
                    VALUES ('delete', old.doc, old.name, old.description);
                    INSERT INTO products_fts(rowid, name, description)
                    VALUES (new.doc, new.name, new.description);
                END;

                CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID;
                INSERT INTO meta(key, value) VALUES ('vector_sequence', 0), ('generation', 0);
                PRAGMA user_version = 1;
                """)
        }
        // v2: the full-text index holds names and descriptions folded by `vitrine_fold`
        // (``TextFolding``: every script's diacritics, Turkish dotless ı, ...), where FTS5's
        // unicode61 folds Latin letters only (Greek tonos stayed). Re-indexed once.
        migrator.registerMigration("v2") { db in
            try db.execute(sql: """
                DROP TRIGGER products_fts_insert;
                DROP TRIGGER products_fts_delete;
                DROP TRIGGER products_fts_update;
                \(foldingTriggers)
                INSERT INTO products_fts(products_fts) VALUES ('delete-all');
                INSERT INTO products_fts(rowid, name, description)
                    SELECT doc, vitrine_fold(name), vitrine_fold(description) FROM products;
                PRAGMA user_version = 2;
                """)
        }
        return migrator
    }

    /// The triggers that keep the full-text index in step with `products`, indexing folded text
    /// (the index's 'delete' must be given the same folded values it indexed).
    static let foldingTriggers = """
        CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
            INSERT INTO products_fts(rowid, name, description)
            VALUES (new.doc, vitrine_fold(new.name), vitrine_fold(new.description));
        END;
        CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
            INSERT INTO products_fts(products_fts, rowid, name, description)
            VALUES ('delete', old.doc, vitrine_fold(old.name), vitrine_fold(old.description));
        END;
        CREATE TRIGGER products_fts_update AFTER UPDATE OF name, description ON products
        WHEN old.name IS NOT new.name OR old.description IS NOT new.description BEGIN
            INSERT INTO products_fts(products_fts, rowid, name, description)
            VALUES ('delete', old.doc, vitrine_fold(old.name), vitrine_fold(old.description));
            INSERT INTO products_fts(rowid, name, description)
            VALUES (new.doc, vitrine_fold(new.name), vitrine_fold(new.description));
        END;
        """
}
