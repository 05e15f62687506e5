import PostgresNIO
import VitrineCatalog

/// The catalog's PostgreSQL schema as numbered migrations, applied in order by the first writer
/// that finds them missing (under a transaction-scoped advisory lock, so two starting writers do
/// not race). `vitrine_schema.version` records the last applied; a build refuses a newer one.
enum PostgresSchema {
    static let version = 2

    /// Statements of each migration, one per element (the extended protocol runs one at a time).
    static let migrations: [[String]] = [
        [
            // Diacritics are folded like SQLite's `remove_diacritics 2`, through the `unaccent`
            // extension when it can be installed (it is a trusted extension: a database owner may
            // create it); without it, text is indexed as written. The function is declared
            // immutable so the generated column below may use it. An extension exists once per
            // database, so it goes into a schema of its own, never into a catalog's: dropping one
            // catalog's schema must not take the others' folding with it.
            """
            DO $$
            DECLARE ns text;
            BEGIN
                BEGIN
                    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent') THEN
                        CREATE SCHEMA IF NOT EXISTS vitrine_extensions;
                        CREATE EXTENSION unaccent SCHEMA vitrine_extensions;
                    END IF;
                EXCEPTION WHEN OTHERS THEN
                    NULL;
                END;
                SELECT quote_ident(n.nspname) INTO ns FROM pg_extension e
                    JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent';
                IF ns IS NULL THEN
                    CREATE FUNCTION vitrine_fold(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
                        AS 'SELECT $1';
                ELSE
                    EXECUTE format('CREATE FUNCTION vitrine_fold(text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
                                   format('SELECT %s.unaccent(%L::regdictionary, $1)', ns, ns || '.unaccent'));
                END IF;
            END $$
            """,
            """
            CREATE TABLE products(
                id text COLLATE "C" PRIMARY KEY,
                name text NOT NULL,
                description text NOT NULL,
                category text COLLATE "C",
                category_name text COLLATE "C",
                market text COLLATE "C",
                source text COLLATE "C" NOT NULL,
                extra text NOT NULL DEFAULT '{}',
                fingerprint text,
                updated_at double precision NOT NULL,
                search tsvector GENERATED ALWAYS AS (
                    setweight(to_tsvector('simple'::regconfig, vitrine_fold(name)), 'A') ||
                    setweight(to_tsvector('simple'::regconfig, vitrine_fold(description)), 'B')) STORED
            )
            """,
            "CREATE INDEX products_search ON products USING gin(search)",
            "CREATE INDEX products_category ON products(category)",
            "CREATE INDEX products_market ON products(market)",
            "CREATE INDEX products_source ON products(source, id)",
            """
            CREATE TABLE images(
                product_id text COLLATE "C" NOT NULL REFERENCES products(id) ON DELETE CASCADE,
                image_id text COLLATE "C" NOT NULL,
                position integer NOT NULL,
                key text COLLATE "C" NOT NULL,
                sha256 text NOT NULL,
                width integer NOT NULL,
                height integer NOT NULL,
                PRIMARY KEY(product_id, image_id)
            )
            """,
            "CREATE INDEX images_key ON images(key)",
            """
            CREATE TABLE state(
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                generation bigint NOT NULL DEFAULT 0 CHECK (generation >= 0),
                vector_sequence bigint NOT NULL DEFAULT 0 CHECK (vector_sequence >= 0),
                last_commit double precision,
                model text,
                index_directory text NOT NULL DEFAULT 'index'
            )
            """,
            "INSERT INTO state DEFAULT VALUES",
            "CREATE TABLE writer(singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), holder text NOT NULL)",
            // Words combine into one query: all of them (&&), else any (||).
            "CREATE AGGREGATE vitrine_all(tsquery) (SFUNC = tsquery_and, STYPE = tsquery)",
            "CREATE AGGREGATE vitrine_any(tsquery) (SFUNC = tsquery_or, STYPE = tsquery)",
        ],
        // 2: the text index (products' text embedded by a sentence model), as its JSON record.
        [
            "ALTER TABLE state ADD COLUMN text_index text",
        ],
    ]

    /// Creates the schema if needed and applies the missing migrations. Returns nothing; throws
    /// ``CatalogError/schemaTooNew(path:found:supported:)`` for a catalog of a newer build.
    static func migrate(_ pool: PostgresPool) throws {
        let schema = pool.configuration.schema
        try pool.transaction { session in
            // One lock for the whole database, not per schema: migrations also create what the
            // catalogs share (the extension's schema), and two creating it at once would race.
            try session.execute("SELECT pg_advisory_xact_lock(hashtext('vitrine-migrate'))")
            try session.execute(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"))
            try session.execute("CREATE TABLE IF NOT EXISTS vitrine_schema(version integer NOT NULL)")
            let found = try currentVersion(session)
            if found > version {
                throw CatalogError.schemaTooNew(path: pool.dependency, found: found, supported: version)
            }
            for number in found..<version {
                for statement in migrations[number] { try session.execute(PostgresQuery(unsafeSQL: statement)) }
            }
            if found < version {
                try session.execute("DELETE FROM vitrine_schema")
                try session.execute("INSERT INTO vitrine_schema(version) VALUES (\(version))")
            }
        }
    }

    /// The applied version; 0 when the schema table is empty.
    static func currentVersion(_ session: PostgresPool.Session) throws -> Int {
        let rows = try session.query("SELECT max(version) FROM vitrine_schema")
        return try rows.first?.decode(Int?.self) ?? 0
    }

    /// For readers: the applied version, or nil when this schema holds no Vitrine catalog.
    static func readVersion(_ pool: PostgresPool) throws -> Int? {
        try pool.withConnection(idempotent: true) { session in
            let rows = try session.query("SELECT to_regclass('vitrine_schema') IS NOT NULL")
            guard try rows.first?.decode(Bool.self) == true else { return nil }
            return try currentVersion(session)
        }
    }
}
