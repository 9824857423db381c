/// The schema of the shared store, as numbered migrations. Each runs once, in order, in
/// one transaction under an advisory lock, so replicas starting together migrate once.
///
/// Money is whole nano-dollars in `bigint`: sums are exact. A budget row is one scope in
/// one period (`global|d:2026-12-03`, `global|m:2026-12`, `global|total`); a new period is
/// a new row, so nothing resets. A reservation or settlement id is finished once
/// (`finished`): replaying a settlement, or a reservation arriving after its release, does
/// nothing.
enum PostgresMigrations {
    static let all: [[String]] = [version1, version2]

    static let version1: [String] = [
        """
        CREATE TABLE budget (
            key text PRIMARY KEY,
            spent bigint NOT NULL DEFAULT 0,
            reserved bigint NOT NULL DEFAULT 0,
            alerted boolean NOT NULL DEFAULT false,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE reservations (
            id text PRIMARY KEY,
            holder text NOT NULL,
            keys text[] NOT NULL,
            amount bigint NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        "CREATE INDEX reservations_holder ON reservations (holder)",
        """
        CREATE TABLE finished (
            id text PRIMARY KEY,
            finished_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE replicas (
            id text PRIMARY KEY,
            started_at timestamptz NOT NULL DEFAULT now(),
            seen_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        "CREATE SEQUENCE health_version",
        """
        CREATE TABLE health (
            key text PRIMARY KEY,
            payload text NOT NULL,
            origin text NOT NULL,
            version bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE probe_claims (
            key text PRIMARY KEY,
            holder text NOT NULL,
            expires_at timestamptz NOT NULL
        )
        """,
        // Locks the rows of the keys in key order (every function takes them in this order,
        // so two requests never wait on each other in a cycle), refuses on the first key
        // whose limit the amount would break, else adds the amount to every key.
        """
        CREATE FUNCTION mm_reserve(p_id text, p_holder text, p_keys text[], p_limits bigint[], p_amount bigint)
        RETURNS TABLE (refused boolean, key text, spent bigint, reserved bigint)
        LANGUAGE plpgsql AS $$
        #variable_conflict use_column
        DECLARE
            r record;
        BEGIN
            IF EXISTS (SELECT 1 FROM finished f WHERE f.id = p_id) THEN
                RETURN QUERY SELECT true, ''::text, 0::bigint, 0::bigint;
                RETURN;
            END IF;
            INSERT INTO budget (key) SELECT k FROM unnest(p_keys) AS k ORDER BY k ON CONFLICT DO NOTHING;
            FOR r IN
                SELECT b.key, b.spent, b.reserved, l.lim
                FROM budget b JOIN unnest(p_keys, p_limits) AS l (k, lim) ON l.k = b.key
                ORDER BY b.key FOR UPDATE OF b
            LOOP
                IF r.lim >= 0 AND r.spent + r.reserved + p_amount > r.lim THEN
                    RETURN QUERY SELECT true, r.key, r.spent, r.reserved;
                    RETURN;
                END IF;
            END LOOP;
            UPDATE budget b SET reserved = b.reserved + p_amount, updated_at = now() WHERE b.key = ANY (p_keys);
            INSERT INTO reservations (id, holder, keys, amount) VALUES (p_id, p_holder, p_keys, p_amount);
            RETURN QUERY SELECT false, b.key, b.spent, b.reserved FROM budget b WHERE b.key = ANY (p_keys) ORDER BY b.key;
        END
        $$
        """,
        """
        CREATE FUNCTION mm_release(p_id text) RETURNS boolean
        LANGUAGE plpgsql AS $$
        DECLARE
            held record;
        BEGIN
            INSERT INTO finished (id) VALUES (p_id) ON CONFLICT DO NOTHING;
            DELETE FROM reservations WHERE id = p_id RETURNING keys, amount INTO held;
            IF NOT FOUND THEN
                RETURN false;
            END IF;
            PERFORM 1 FROM budget b WHERE b.key = ANY (held.keys) ORDER BY b.key FOR UPDATE;
            UPDATE budget b SET reserved = greatest(0, b.reserved - held.amount), updated_at = now()
            WHERE b.key = ANY (held.keys);
            RETURN true;
        END
        $$
        """,
        // Registers the caller as alive, then releases what replicas not seen for the lease
        // still hold, and reservations older than six hours (a reservation that arrived
        // after its requester gave up on it).
        """
        CREATE FUNCTION mm_heartbeat(p_holder text, p_lease_ms bigint) RETURNS integer
        LANGUAGE plpgsql AS $$
        DECLARE
            r record;
            n integer := 0;
        BEGIN
            INSERT INTO replicas (id) VALUES (p_holder) ON CONFLICT (id) DO UPDATE SET seen_at = now();
            FOR r IN
                SELECT res.id FROM reservations res
                WHERE res.created_at < now() - interval '6 hours'
                   OR NOT EXISTS (
                    SELECT 1 FROM replicas rep
                    WHERE rep.id = res.holder AND rep.seen_at > now() - p_lease_ms * interval '1 millisecond')
            LOOP
                IF mm_release(r.id) THEN
                    n := n + 1;
                END IF;
            END LOOP;
            DELETE FROM replicas WHERE seen_at < now() - interval '1 day';
            DELETE FROM finished WHERE finished_at < now() - interval '3 days';
            DELETE FROM probe_claims WHERE expires_at < now() - interval '1 hour';
            RETURN n;
        END
        $$
        """,
    ]

    /// The counters behind request, token and cost limits, one row per model and day, and
    /// settlements in batches.
    static let version2: [String] = [
        """
        CREATE TABLE usage (
            key text PRIMARY KEY,
            requests bigint NOT NULL DEFAULT 0,
            tokens bigint NOT NULL DEFAULT 0,
            cost bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        // Adds the deltas (rows locked in key order) and returns each total as this addition
        // left it, then the other rows of the day.
        """
        CREATE FUNCTION mm_usage(p_keys text[], p_requests bigint[], p_tokens bigint[], p_cost bigint[], p_suffix text)
        RETURNS TABLE (key text, requests bigint, tokens bigint, cost bigint, own boolean)
        LANGUAGE plpgsql AS $$
        BEGIN
            RETURN QUERY
            INSERT INTO usage AS u (key, requests, tokens, cost)
                SELECT d.k, d.r, d.t, d.c FROM unnest(p_keys, p_requests, p_tokens, p_cost) AS d(k, r, t, c) ORDER BY d.k
            ON CONFLICT ON CONSTRAINT usage_pkey DO UPDATE SET
                requests = u.requests + excluded.requests, tokens = u.tokens + excluded.tokens,
                cost = u.cost + excluded.cost, updated_at = now()
            RETURNING u.key, u.requests, u.tokens, u.cost, true;
            RETURN QUERY
            SELECT u.key, u.requests, u.tokens, u.cost, false FROM usage u
            WHERE right(u.key, length(p_suffix)) = p_suffix AND NOT (u.key = ANY (p_keys));
        END
        $$
        """,
        // Settles several reservations at once: each id once (a replay changes nothing), its
        // cost added to its keys, what its reservation held given back. The scope rows every
        // request shares are locked once per batch, not once per request. `p_owners[j]` is
        // the index in `p_ids` of the settlement `p_keys[j]` belongs to.
        """
        CREATE FUNCTION mm_settle_many(p_ids text[], p_actuals bigint[], p_keys text[], p_owners bigint[])
        RETURNS TABLE (key text, spent bigint, reserved bigint, alerted boolean)
        LANGUAGE plpgsql AS $$
        DECLARE
            i integer;
            held record;
            e_keys text[] := '{}';
            e_spent bigint[] := '{}';
            e_released bigint[] := '{}';
            mine text[];
        BEGIN
            FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
                INSERT INTO finished (id) VALUES (p_ids[i]) ON CONFLICT DO NOTHING;
                CONTINUE WHEN NOT FOUND;
                mine := ARRAY(SELECT p_keys[j] FROM generate_subscripts(p_keys, 1) AS j WHERE p_owners[j] = i);
                e_keys := e_keys || mine;
                e_spent := e_spent || array_fill(p_actuals[i], ARRAY[cardinality(mine)]);
                e_released := e_released || array_fill(0::bigint, ARRAY[cardinality(mine)]);
                DELETE FROM reservations r WHERE r.id = p_ids[i] RETURNING r.keys, r.amount INTO held;
                IF FOUND THEN
                    e_keys := e_keys || held.keys;
                    e_spent := e_spent || array_fill(0::bigint, ARRAY[cardinality(held.keys)]);
                    e_released := e_released || array_fill(held.amount, ARRAY[cardinality(held.keys)]);
                END IF;
            END LOOP;
            IF cardinality(e_keys) > 0 THEN
                INSERT INTO budget (key) SELECT DISTINCT k FROM unnest(e_keys) AS k ORDER BY k ON CONFLICT DO NOTHING;
                PERFORM 1 FROM budget b WHERE b.key = ANY (e_keys) ORDER BY b.key FOR UPDATE;
                UPDATE budget b SET spent = b.spent + d.s, reserved = greatest(0, b.reserved - d.r), updated_at = now()
                FROM (SELECT e.k, sum(e.s)::bigint AS s, sum(e.r)::bigint AS r
                      FROM unnest(e_keys, e_spent, e_released) AS e (k, s, r) GROUP BY e.k) AS d
                WHERE b.key = d.k;
            END IF;
            RETURN QUERY SELECT b.key, b.spent, b.reserved, b.alerted FROM budget b WHERE b.key = ANY (p_keys) ORDER BY b.key;
        END
        $$
        """,
    ]
}
