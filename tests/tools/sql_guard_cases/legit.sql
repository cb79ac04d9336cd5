-- Realistic analytic queries the SQL guard must accept. Each runs on the DuckDB fixture
-- (tests/tools/sql_guard_cases/__init__.py) and must return the same rows before and after the guard.

-- @case hourly_reject_rate
SELECT date_trunc('hour', event_time) AS bucket,
       avg(CASE WHEN choice = 'reject_all' THEN 1.0 ELSE 0.0 END) AS reject_rate
FROM consent_events
GROUP BY 1
ORDER BY 1

-- @case daily_reject_rate_by_platform
SELECT date_trunc('day', event_time) AS day, platform,
       avg(CASE WHEN choice = 'reject_all' THEN 1.0 ELSE 0.0 END) AS reject_rate,
       count(*) AS n
FROM consent_events
GROUP BY day, platform
ORDER BY day, platform

-- @case reject_rate_by_region_platform_having
SELECT region, platform, count(*) AS n,
       avg(CASE WHEN choice = 'reject_all' THEN 1.0 ELSE 0.0 END) AS reject_rate
FROM consent_events
GROUP BY region, platform
HAVING count(*) > 20
ORDER BY reject_rate DESC, region, platform

-- @case distinct_users_per_platform
SELECT platform, count(DISTINCT user_id) AS users FROM consent_events GROUP BY platform

-- @case distinct_devices_count_pii
SELECT platform, count(DISTINCT device_id) AS devices FROM consent_events GROUP BY platform

-- @case approx_distinct_ips
SELECT region, approx_count_distinct(ip_address) AS ips FROM consent_events GROUP BY region

-- @case count_ip_non_null
SELECT count(ip_address) AS with_ip, count(*) AS total FROM consent_events

-- @case filter_on_ip_like
SELECT platform, count(*) AS n FROM consent_events WHERE ip_address LIKE '10.0.3.%' GROUP BY platform

-- @case filter_on_ip_in_list
SELECT count(*) AS n FROM consent_events WHERE ip_address IN ('10.0.1.1', '10.0.2.2', '10.0.3.3')

-- @case filter_on_ip_is_not_null
SELECT choice, count(*) AS n FROM consent_events WHERE ip_address IS NOT NULL GROUP BY choice

-- @case filter_on_device_prefix
SELECT count(DISTINCT user_id) AS users FROM consent_events WHERE starts_with(device_id, 'd1')

-- @case filter_on_hashed_ip
SELECT count(*) AS n FROM consent_events WHERE md5(ip_address) = md5('10.0.1.1')

-- @case filter_on_ip_length
SELECT platform, count(*) AS n FROM consent_events WHERE length(ip_address) > 9 GROUP BY platform

-- @case count_filter_clause_on_pii
SELECT platform,
       count(*) FILTER (WHERE ip_address LIKE '10.0.1.%') AS subnet_events,
       count(*) AS events
FROM consent_events
GROUP BY platform

-- @case count_case_on_pii
SELECT region, count(CASE WHEN device_id LIKE 'd1%' THEN 1 END) AS d1_events FROM consent_events GROUP BY region

-- @case count_if_choice
SELECT platform, count_if(choice = 'reject_all') AS rejects, count(*) AS n FROM consent_events GROUP BY platform

-- @case sum_filter_on_pii
SELECT sum(1) FILTER (WHERE ip_address LIKE '10.0.2.%') AS subnet_rows FROM consent_events

-- @case join_experiment_count_units
SELECT a.arm, count(DISTINCT a.user_id) AS units
FROM experiment_assignments AS a
JOIN consent_events AS e ON e.user_id = a.user_id
GROUP BY a.arm
ORDER BY a.arm

-- @case experiment_reject_rate_by_arm
SELECT a.experiment_id, a.arm,
       avg(CASE WHEN e.choice = 'reject_all' THEN 1.0 ELSE 0.0 END) AS reject_rate,
       count(*) AS events
FROM consent_events AS e
JOIN experiment_assignments AS a ON a.user_id = e.user_id AND e.event_time >= a.assigned_at
GROUP BY a.experiment_id, a.arm
ORDER BY a.experiment_id, a.arm

-- @case experiment_treated_units_affected
SELECT count(DISTINCT e.user_id) AS affected_units
FROM consent_events AS e
JOIN experiment_assignments AS a ON a.user_id = e.user_id
WHERE a.arm <> 'control' AND e.choice = 'reject_all' AND e.event_time >= a.assigned_at

-- @case experiment_units_in_subquery
SELECT count(DISTINCT user_id) AS units
FROM consent_events
WHERE user_id IN (SELECT user_id FROM experiment_assignments WHERE arm = 'treatment')

-- @case experiment_units_exists
SELECT platform, count(*) AS n
FROM consent_events AS e
WHERE EXISTS (SELECT 1 FROM experiment_assignments AS a WHERE a.user_id = e.user_id AND a.arm = 'control')
GROUP BY platform

-- @case experiment_not_exists
SELECT count(*) AS unassigned_events
FROM consent_events AS e
WHERE NOT EXISTS (SELECT 1 FROM experiment_assignments AS a WHERE a.user_id = e.user_id)

-- @case experiment_assignment_counts
SELECT experiment_id, arm, count(*) AS assignments, min(assigned_at) AS first_at, max(assigned_at) AS last_at
FROM experiment_assignments
GROUP BY ALL
ORDER BY ALL

-- @case experiment_count_distinct_pii_user
SELECT experiment_id, count(DISTINCT user_id) AS users FROM experiment_assignments GROUP BY experiment_id

-- @case experiment_arm_share
SELECT experiment_id, arm, count(*) * 1.0 / sum(count(*)) OVER (PARTITION BY experiment_id) AS share
FROM experiment_assignments
GROUP BY experiment_id, arm

-- @case cte_baseline_vs_incident
WITH hourly AS (
  SELECT date_trunc('hour', event_time) AS bucket,
         avg(CASE WHEN choice = 'reject_all' THEN 1.0 ELSE 0.0 END) AS rate
  FROM consent_events
  GROUP BY 1
),
baseline AS (SELECT avg(rate) AS base FROM hourly WHERE bucket < TIMESTAMP '2026-03-13 00:00:00'),
incident AS (SELECT avg(rate) AS obs FROM hourly WHERE bucket >= TIMESTAMP '2026-03-13 00:00:00')
SELECT base, obs, obs - base AS delta FROM baseline CROSS JOIN incident

-- @case cte_chain_three
WITH e AS (SELECT event_time, platform, choice FROM consent_events WHERE region = 'EU'),
     h AS (SELECT date_trunc('hour', event_time) AS bucket, platform, count(*) AS n FROM e GROUP BY 1, 2),
     d AS (SELECT platform, avg(n) AS avg_n, max(n) AS max_n FROM h GROUP BY platform)
SELECT * FROM d ORDER BY platform

-- @case cte_used_twice
WITH daily AS (
  SELECT CAST(event_time AS DATE) AS day, platform, count(*) AS n FROM consent_events GROUP BY 1, 2
)
SELECT cur.day, cur.platform, cur.n, prev.n AS prev_n
FROM daily AS cur
LEFT JOIN daily AS prev ON prev.platform = cur.platform AND prev.day = cur.day - INTERVAL 1 DAY
ORDER BY cur.day, cur.platform

-- @case cte_raw_pii_counted_outside
WITH per_ip AS (SELECT ip_address, count(*) AS n FROM consent_events GROUP BY ip_address)
SELECT count(*) AS ips, max(n) AS max_events, avg(n) AS avg_events FROM per_ip

-- @case cte_raw_pii_count_distinct_outside
WITH raw AS (SELECT ip_address, device_id, platform FROM consent_events WHERE region = 'US')
SELECT platform, count(DISTINCT ip_address) AS ips, count(DISTINCT device_id) AS devices
FROM raw
GROUP BY platform

-- @case cte_raw_pii_filtered_outside
WITH raw AS (SELECT ip_address, platform, choice FROM consent_events)
SELECT platform, count(*) AS n FROM raw WHERE ip_address LIKE '10.0.0.%' GROUP BY platform

-- @case derived_pii_grouped_not_output
SELECT n, count(*) AS devices
FROM (SELECT device_id, count(*) AS n FROM consent_events GROUP BY device_id) AS per_device
GROUP BY n
ORDER BY n

-- @case derived_pii_join_key
SELECT x.platform, count(*) AS pairs
FROM (SELECT device_id, platform FROM consent_events) AS x
JOIN (SELECT device_id FROM consent_events WHERE choice = 'reject_all') AS y ON x.device_id = y.device_id
GROUP BY x.platform

-- @case heavy_ips_counted
SELECT count(*) AS heavy_ips
FROM (SELECT ip_address FROM consent_events GROUP BY ip_address HAVING count(*) > 2) AS t

-- @case percentile_events_per_device
SELECT quantile_cont(n, 0.5) AS p50, quantile_cont(n, 0.9) AS p90, max(n) AS max_n
FROM (SELECT device_id, count(*) AS n FROM consent_events GROUP BY device_id) AS t

-- @case percentile_cont_within_group
SELECT platform, percentile_cont(0.5) WITHIN GROUP (ORDER BY n) AS median_n
FROM (SELECT platform, date_trunc('hour', event_time) AS h, count(*) AS n FROM consent_events GROUP BY 1, 2) AS t
GROUP BY platform

-- @case percentile_disc_hours
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY hour(event_time)) AS median_hour FROM consent_events

-- @case median_and_stddev
SELECT platform, median(n) AS med, stddev_samp(n) AS sd
FROM (SELECT platform, CAST(event_time AS DATE) AS d, count(*) AS n FROM consent_events GROUP BY 1, 2) AS t
GROUP BY platform

-- @case approx_quantile_gap
SELECT approx_quantile(epoch(event_time) - epoch(assigned_at), 0.5) IS NOT NULL AS has_median
FROM consent_events AS e JOIN experiment_assignments AS a ON a.user_id = e.user_id

-- @case window_lag_delta
WITH hourly AS (
  SELECT date_trunc('hour', event_time) AS bucket, count(*) AS n FROM consent_events GROUP BY 1
)
SELECT bucket, n, n - lag(n) OVER (ORDER BY bucket) AS delta FROM hourly ORDER BY bucket

-- @case window_lead
SELECT bucket, n, lead(n, 1, 0) OVER (ORDER BY bucket) AS next_n
FROM (SELECT date_trunc('day', event_time) AS bucket, count(*) AS n FROM consent_events GROUP BY 1) AS t

-- @case window_moving_average
SELECT bucket, avg(n) OVER (ORDER BY bucket ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS ma3
FROM (SELECT date_trunc('hour', event_time) AS bucket, count(*) AS n FROM consent_events GROUP BY 1) AS t

-- @case window_running_total_by_platform
SELECT platform, bucket, sum(n) OVER (PARTITION BY platform ORDER BY bucket) AS running
FROM (SELECT platform, date_trunc('day', event_time) AS bucket, count(*) AS n FROM consent_events GROUP BY 1, 2) AS t

-- @case window_row_number_latest_deploy
SELECT deploy_id, platform, deployed_at
FROM (
  SELECT deploy_id, platform, deployed_at,
         row_number() OVER (PARTITION BY coalesce(platform, '*') ORDER BY deployed_at DESC) AS rn
  FROM deployments
) AS t
WHERE rn = 1

-- @case qualify_latest_per_platform
SELECT platform, event_time, choice
FROM consent_events
QUALIFY row_number() OVER (PARTITION BY platform ORDER BY event_time DESC) = 1

-- @case qualify_rank_regions
SELECT region, platform, count(*) AS n
FROM consent_events
GROUP BY region, platform
QUALIFY rank() OVER (PARTITION BY region ORDER BY count(*) DESC, platform) = 1

-- @case qualify_filter_on_pii_window
SELECT platform, event_time
FROM consent_events
QUALIFY row_number() OVER (PARTITION BY device_id ORDER BY event_time) = 1

-- @case window_dense_rank
SELECT platform, n, dense_rank() OVER (ORDER BY n DESC) AS r
FROM (SELECT platform, count(*) AS n FROM consent_events GROUP BY platform) AS t

-- @case window_ntile
SELECT bucket, ntile(4) OVER (ORDER BY bucket) AS quartile
FROM (SELECT DISTINCT date_trunc('hour', event_time) AS bucket FROM consent_events) AS t

-- @case window_percent_rank_cume_dist
SELECT bucket, percent_rank() OVER (ORDER BY n, bucket) AS pr, cume_dist() OVER (ORDER BY n, bucket) AS cd
FROM (SELECT date_trunc('day', event_time) AS bucket, count(*) AS n FROM consent_events GROUP BY 1) AS t

-- @case window_first_value_non_pii
SELECT DISTINCT region, first_value(platform) OVER (PARTITION BY region ORDER BY event_time) AS first_platform
FROM consent_events

-- @case window_count_pii_inside_count
SELECT DISTINCT platform, count(DISTINCT device_id) OVER (PARTITION BY platform) AS devices
FROM consent_events

-- @case window_share_of_total
SELECT platform, count(*) AS n, count(*) * 1.0 / sum(count(*)) OVER () AS share
FROM consent_events
GROUP BY platform

-- @case date_trunc_week
SELECT date_trunc('week', event_time) AS wk, count(*) AS n FROM consent_events GROUP BY 1 ORDER BY 1

-- @case time_bucket_two_hours
SELECT time_bucket(INTERVAL '2 hours', event_time) AS b, count(*) AS n FROM consent_events GROUP BY 1 ORDER BY 1

-- @case interval_window_filter
SELECT platform, count(*) AS n
FROM consent_events
WHERE event_time >= TIMESTAMP '2026-03-14 09:00:00' - INTERVAL 15 HOUR
  AND event_time < TIMESTAMP '2026-03-14 09:00:00'
GROUP BY platform

-- @case interval_arithmetic_days
SELECT CAST(event_time AS DATE) AS d, count(*) AS n
FROM consent_events
WHERE event_time BETWEEN TIMESTAMP '2026-03-10' AND TIMESTAMP '2026-03-10' + INTERVAL '3 days'
GROUP BY 1

-- @case deploy_after_window
SELECT d.deploy_id, count(*) AS events_after
FROM deployments AS d
JOIN consent_events AS e ON e.event_time BETWEEN d.deployed_at AND d.deployed_at + INTERVAL 6 HOUR
GROUP BY d.deploy_id
ORDER BY d.deploy_id

-- @case deploy_scope_match
SELECT d.deploy_id, count(*) AS in_scope_events
FROM deployments AS d
JOIN consent_events AS e
  ON (d.platform IS NULL OR d.platform = '*' OR d.platform = e.platform)
 AND (d.region IS NULL OR d.region = '*' OR d.region = e.region)
 AND e.event_time >= d.deployed_at
GROUP BY d.deploy_id

-- @case deploy_before_after_rate
SELECT d.deploy_id,
       avg(CASE WHEN e.event_time < d.deployed_at AND e.choice = 'reject_all' THEN 1.0
                WHEN e.event_time < d.deployed_at THEN 0.0 END) AS before_rate,
       avg(CASE WHEN e.event_time >= d.deployed_at AND e.choice = 'reject_all' THEN 1.0
                WHEN e.event_time >= d.deployed_at THEN 0.0 END) AS after_rate
FROM deployments AS d CROSS JOIN consent_events AS e
GROUP BY d.deploy_id

-- @case deploy_date_diff
SELECT deploy_id, date_diff('hour', TIMESTAMP '2026-03-10 00:00:00', deployed_at) AS hours_from_start
FROM deployments

-- @case deploy_lookback
SELECT deploy_id, summary, deployed_at
FROM deployments
WHERE deployed_at >= TIMESTAMP '2026-03-14 09:00:00' - INTERVAL 7 DAY
ORDER BY deployed_at

-- @case deploy_select_star
SELECT * FROM deployments

-- @case deploy_table_star
SELECT d.* FROM deployments AS d WHERE d.region = 'US'

-- @case deploy_coalesce_scope
SELECT deploy_id, coalesce(platform, '*') AS platform_scope, coalesce(region, '*') AS region_scope FROM deployments

-- @case deploy_summary_search
SELECT deploy_id FROM deployments WHERE summary ILIKE '%consent%' OR lower(summary) LIKE '%reject%'

-- @case case_buckets
SELECT CASE WHEN hour(event_time) < 6 THEN 'night'
            WHEN hour(event_time) < 12 THEN 'morning'
            WHEN hour(event_time) < 18 THEN 'afternoon'
            ELSE 'evening' END AS part_of_day,
       count(*) AS n
FROM consent_events
GROUP BY 1

-- @case case_in_group_by_expression
SELECT CASE WHEN app_version LIKE '31.%' THEN 'v31' ELSE 'v32+' END AS major, count(*) AS n
FROM consent_events
GROUP BY CASE WHEN app_version LIKE '31.%' THEN 'v31' ELSE 'v32+' END

-- @case coalesce_nullif_rate
SELECT platform,
       coalesce(sum(CASE WHEN choice = 'reject_all' THEN 1 ELSE 0 END) * 1.0 / nullif(count(*), 0), 0) AS rate
FROM consent_events
GROUP BY platform

-- @case round_rates
SELECT region, round(avg(CASE WHEN choice = 'accept_all' THEN 100.0 ELSE 0 END), 2) AS accept_pct
FROM consent_events
GROUP BY region

-- @case group_by_rollup
SELECT platform, region, count(*) AS n FROM consent_events GROUP BY ROLLUP (platform, region)

-- @case group_by_cube
SELECT platform, choice, count(*) AS n FROM consent_events GROUP BY CUBE (platform, choice)

-- @case grouping_sets
SELECT platform, region, count(*) AS n
FROM consent_events
GROUP BY GROUPING SETS ((platform), (region), ())

-- @case group_by_pii_output_count_only
SELECT count(*) AS n FROM consent_events GROUP BY ip_address HAVING count(*) > 3

-- @case group_by_pii_and_platform
SELECT platform, count(*) AS events FROM consent_events GROUP BY platform, device_id HAVING count(*) > 4

-- @case having_on_pii_count
SELECT platform FROM consent_events GROUP BY platform HAVING count(DISTINCT ip_address) > 10

-- @case order_by_pii_not_output
SELECT platform, event_time FROM consent_events ORDER BY ip_address, event_time LIMIT 5

-- @case distinct_dimensions
SELECT DISTINCT platform, region FROM consent_events

-- @case distinct_on_platform
SELECT DISTINCT ON (platform) platform, event_time, choice FROM consent_events ORDER BY platform, event_time

-- @case extract_parts
SELECT extract(hour FROM event_time) AS h, extract(dow FROM event_time) AS dow, count(*) AS n
FROM consent_events
GROUP BY 1, 2

-- @case date_part_function
SELECT date_part('day', event_time) AS d, count(*) AS n FROM consent_events GROUP BY 1

-- @case dayname_grouping
SELECT dayname(event_time) AS day_name, count(*) AS n FROM consent_events GROUP BY 1

-- @case strftime_buckets
SELECT strftime(event_time, '%Y-%m-%d %H:00') AS hour_label, count(*) AS n FROM consent_events GROUP BY 1

-- @case epoch_seconds
SELECT platform, max(epoch(event_time)) - min(epoch(event_time)) AS span_seconds FROM consent_events GROUP BY platform

-- @case epoch_ms_range
SELECT min(epoch_ms(event_time)) AS first_ms, max(epoch_ms(event_time)) AS last_ms FROM consent_events

-- @case cast_date
SELECT CAST(event_time AS DATE) AS d, count(DISTINCT user_id) AS users FROM consent_events GROUP BY 1

-- @case cast_double_colon
SELECT event_time::DATE AS d, count(*)::DOUBLE AS n FROM consent_events GROUP BY 1

-- @case try_cast_version
SELECT try_cast(split_part(app_version, '.', 1) AS INTEGER) AS major, count(*) AS n
FROM consent_events
GROUP BY 1

-- @case regexp_matches_version
SELECT app_version, count(*) AS n FROM consent_events WHERE regexp_matches(app_version, '^31\.') GROUP BY 1

-- @case regexp_replace_version
SELECT regexp_replace(app_version, '\.[0-9]+$', '') AS minor_line, count(*) AS n FROM consent_events GROUP BY 1

-- @case string_functions_non_pii
SELECT upper(platform) AS p, lower(region) AS r, concat(platform, '/', region) AS pr, length(app_version) AS lv
FROM consent_events
GROUP BY ALL

-- @case concat_operator_non_pii
SELECT platform || ':' || region AS segment, count(*) AS n FROM consent_events GROUP BY 1

-- @case greatest_least
SELECT deploy_id, greatest(deployed_at, TIMESTAMP '2026-03-12') AS g, least(deployed_at, TIMESTAMP '2026-03-12') AS l
FROM deployments

-- @case is_distinct_from
SELECT count(*) AS n FROM deployments WHERE platform IS DISTINCT FROM 'android'

-- @case between_and_in
SELECT choice, count(*) AS n
FROM consent_events
WHERE platform IN ('android', 'ios') AND hour(event_time) BETWEEN 8 AND 20
GROUP BY choice

-- @case not_in_list
SELECT count(*) AS n FROM consent_events WHERE region NOT IN ('EU')

-- @case ilike_filter
SELECT count(*) AS n FROM consent_events WHERE choice ILIKE 'REJECT%'

-- @case bool_aggregates
SELECT platform, bool_or(choice = 'reject_all') AS any_reject, bool_and(region IS NOT NULL) AS all_region
FROM consent_events
GROUP BY platform

-- @case list_agg_non_pii
SELECT region, list(DISTINCT platform ORDER BY platform) AS platforms FROM consent_events GROUP BY region

-- @case string_agg_non_pii
SELECT platform, string_agg(DISTINCT region, ',' ORDER BY region) AS regions FROM consent_events GROUP BY platform

-- @case array_agg_deploys
SELECT coalesce(platform, 'all') AS p, array_agg(deploy_id ORDER BY deploy_id) AS deploys FROM deployments GROUP BY 1

-- @case struct_non_pii
SELECT {'platform': platform, 'region': region} AS segment, count(*) AS n FROM consent_events GROUP BY 1

-- @case struct_pack_non_pii
SELECT struct_pack(p := platform, n := count(*)) AS s FROM consent_events GROUP BY platform

-- @case list_value_non_pii
SELECT list_value(platform, region) AS dims, count(*) AS n FROM consent_events GROUP BY 1

-- @case arg_max_platform
SELECT arg_max(platform, n) AS top_platform
FROM (SELECT platform, count(*) AS n FROM consent_events GROUP BY platform) AS t

-- @case min_max_by_region
SELECT region, min(event_time) AS first_seen, max(event_time) AS last_seen FROM consent_events GROUP BY region

-- @case any_value_non_pii
SELECT platform, any_value(region) IS NOT NULL AS has_region FROM consent_events GROUP BY platform

-- @case generate_series_gap_fill
SELECT s.bucket, coalesce(c.n, 0) AS n
FROM generate_series(TIMESTAMP '2026-03-10 00:00:00', TIMESTAMP '2026-03-10 23:00:00', INTERVAL 1 HOUR) AS s(bucket)
LEFT JOIN (
  SELECT date_trunc('hour', event_time) AS bucket, count(*) AS n FROM consent_events GROUP BY 1
) AS c ON c.bucket = s.bucket
ORDER BY s.bucket

-- @case range_table_function
SELECT r.i, count(e.platform) AS n
FROM range(0, 24) AS r(i)
LEFT JOIN consent_events AS e ON hour(e.event_time) = r.i
GROUP BY r.i
ORDER BY r.i

-- @case unnest_literal_list
SELECT p.platform, count(e.choice) AS n
FROM unnest(['android', 'ios', 'web', 'tv']) AS p(platform)
LEFT JOIN consent_events AS e ON e.platform = p.platform
GROUP BY p.platform

-- @case unnest_in_select
SELECT unnest(['EU', 'US']) AS region

-- @case values_mapping_join
SELECT m.label, count(*) AS n
FROM consent_events AS e
JOIN (VALUES ('reject_all', 'rejected'), ('accept_all', 'accepted'), ('custom', 'customised')) AS m(choice, label)
  ON m.choice = e.choice
GROUP BY m.label

-- @case lateral_non_pii
SELECT d.deploy_id, x.n
FROM deployments AS d,
     LATERAL (SELECT count(*) AS n FROM consent_events AS e WHERE e.event_time >= d.deployed_at) AS x
ORDER BY d.deploy_id

-- @case union_all_dimensions
SELECT platform FROM consent_events UNION ALL SELECT platform FROM deployments WHERE platform IS NOT NULL

-- @case union_distinct_regions
SELECT region FROM consent_events UNION SELECT region FROM deployments WHERE region IS NOT NULL

-- @case intersect_platforms
SELECT platform FROM consent_events INTERSECT SELECT platform FROM deployments

-- @case except_platforms
SELECT platform FROM consent_events EXCEPT SELECT platform FROM deployments WHERE platform IS NOT NULL

-- @case union_with_order_limit
SELECT 'events' AS src, count(*) AS n FROM consent_events
UNION ALL
SELECT 'deploys' AS src, count(*) AS n FROM deployments
ORDER BY src
LIMIT 10

-- @case union_counts_of_pii
SELECT 'ips' AS what, count(DISTINCT ip_address) AS n FROM consent_events
UNION ALL
SELECT 'devices' AS what, count(DISTINCT device_id) AS n FROM consent_events

-- @case union_inside_cte
WITH dims AS (
  SELECT platform, region FROM consent_events
  UNION
  SELECT platform, region FROM deployments
)
SELECT count(*) AS combos FROM dims

-- @case scalar_subquery_count
SELECT platform, count(*) AS n, (SELECT count(*) FROM deployments) AS deploys FROM consent_events GROUP BY platform

-- @case scalar_subquery_correlated
SELECT d.deploy_id,
       (SELECT count(*) FROM consent_events AS e WHERE e.platform = d.platform) AS platform_events
FROM deployments AS d

-- @case scalar_subquery_count_pii
SELECT (SELECT count(DISTINCT ip_address) FROM consent_events) AS ips, (SELECT count(*) FROM deployments) AS deploys

-- @case in_subquery_with_cte
WITH treated AS (SELECT user_id FROM experiment_assignments WHERE arm = 'treatment')
SELECT platform, count(DISTINCT user_id) AS users
FROM consent_events
WHERE user_id IN (SELECT user_id FROM treated)
GROUP BY platform

-- @case semi_join_filter
SELECT count(*) AS n FROM consent_events AS e SEMI JOIN experiment_assignments AS a ON a.user_id = e.user_id

-- @case anti_join_filter
SELECT count(*) AS n FROM consent_events AS e ANTI JOIN experiment_assignments AS a ON a.user_id = e.user_id

-- @case full_outer_join_ctes
WITH a AS (SELECT platform, count(*) AS events FROM consent_events GROUP BY platform),
     b AS (SELECT platform, count(*) AS deploys FROM deployments WHERE platform IS NOT NULL GROUP BY platform)
SELECT coalesce(a.platform, b.platform) AS platform, coalesce(a.events, 0) AS events, coalesce(b.deploys, 0) AS deploys
FROM a FULL OUTER JOIN b ON a.platform = b.platform

-- @case left_join_using
SELECT platform, count(d.deploy_id) AS deploys
FROM (SELECT DISTINCT platform FROM consent_events) AS p
LEFT JOIN deployments AS d USING (platform)
GROUP BY platform

-- @case join_using_pii_key_counted
SELECT count(DISTINCT user_id) AS users FROM consent_events JOIN experiment_assignments USING (user_id)

-- @case cross_join_generate
SELECT g.x, count(*) AS n FROM consent_events AS e CROSS JOIN generate_series(1, 2) AS g(x) GROUP BY g.x

-- @case nested_subqueries_three_levels
SELECT max(avg_n) AS peak
FROM (
  SELECT platform, avg(n) AS avg_n
  FROM (
    SELECT platform, date_trunc('hour', event_time) AS h, count(*) AS n
    FROM (SELECT platform, event_time FROM consent_events WHERE choice <> 'custom') AS e
    GROUP BY 1, 2
  ) AS hourly
  GROUP BY platform
) AS by_platform

-- @case derived_table_column_aliases
SELECT t.p, t.n FROM (SELECT platform, count(*) FROM consent_events GROUP BY platform) AS t(p, n)

-- @case from_first_syntax
FROM consent_events SELECT platform, count(*) AS n GROUP BY platform

-- @case select_star_exclude_pii
SELECT * EXCLUDE (device_id, ip_address) FROM consent_events WHERE platform = 'ios'

-- @case select_star_exclude_pii_experiment
SELECT * EXCLUDE (user_id) FROM experiment_assignments

-- @case select_star_replace_non_pii
SELECT * EXCLUDE (device_id, ip_address) REPLACE (upper(platform) AS platform) FROM consent_events

-- @case star_from_cte_without_pii
WITH s AS (SELECT platform, region, count(*) AS n FROM consent_events GROUP BY 1, 2) SELECT * FROM s

-- @case uppercase_identifiers
SELECT PLATFORM, COUNT(*) AS N FROM CONSENT_EVENTS GROUP BY PLATFORM

-- @case quoted_identifiers
SELECT "platform", count(*) AS "n" FROM "consent_events" GROUP BY "platform"

-- @case mixed_case_quoted
SELECT "Platform", "Region" FROM "Consent_Events" GROUP BY ALL

-- @case comment_block_and_line
/* hourly counts for the incident review */
SELECT platform, -- the dimension
       count(*) AS n /* events */
FROM consent_events
GROUP BY platform -- done

-- @case trailing_semicolon
SELECT count(*) AS n FROM deployments;

-- @case comment_after_semicolon
-- deploys in the lookback
SELECT count(*) AS n FROM deployments; -- done

-- @case block_comment_after_semicolon
SELECT count(*) AS n FROM deployments; /* end */

-- @case string_literal_with_keywords
SELECT count(*) AS n FROM deployments WHERE summary <> 'DROP TABLE x; DELETE FROM y'

-- @case string_literal_with_semicolon_and_comment
SELECT 'a;b -- c /* d */' AS s, count(*) AS n FROM consent_events

-- @case explicit_limit_kept
SELECT platform, event_time FROM consent_events ORDER BY event_time, platform LIMIT 5

-- @case explicit_limit_clamped
SELECT event_time, platform FROM consent_events ORDER BY event_time LIMIT 50000

-- @case limit_offset
SELECT event_time FROM consent_events ORDER BY event_time LIMIT 10 OFFSET 20

-- @case subquery_limit_inner
SELECT count(*) AS n FROM (SELECT event_time FROM consent_events ORDER BY event_time LIMIT 100) AS t

-- @case impact_sizing_scope
SELECT count(DISTINCT e.user_id) AS affected_units
FROM consent_events AS e
WHERE e.event_time >= TIMESTAMP '2026-03-12 02:00:00'
  AND e.platform = 'android'
  AND e.choice = 'reject_all'

-- @case impact_sizing_segment
SELECT count(DISTINCT user_id) AS affected_units
FROM consent_events
WHERE platform = 'android' AND region = 'EU'
  AND event_time BETWEEN TIMESTAMP '2026-03-13 18:00:00' AND TIMESTAMP '2026-03-14 09:00:00'

-- @case segment_share_of_change
WITH cur AS (
  SELECT platform, avg(CASE WHEN choice = 'reject_all' THEN 1.0 ELSE 0.0 END) AS rate, count(*) AS n
  FROM consent_events WHERE event_time >= TIMESTAMP '2026-03-13' GROUP BY platform
), base AS (
  SELECT platform, avg(CASE WHEN choice = 'reject_all' THEN 1.0 ELSE 0.0 END) AS rate, count(*) AS n
  FROM consent_events WHERE event_time < TIMESTAMP '2026-03-13' GROUP BY platform
)
SELECT cur.platform, cur.rate - base.rate AS delta, cur.n AS n
FROM cur JOIN base ON base.platform = cur.platform
ORDER BY abs(cur.rate - base.rate) DESC, cur.platform

-- @case segment_cells
SELECT platform, region, date_trunc('hour', event_time) AS bucket,
       sum(CASE WHEN choice = 'reject_all' THEN 1 ELSE 0 END) AS num, count(*) AS den
FROM consent_events
GROUP BY ALL

-- @case app_version_rollout
SELECT app_version, min(event_time) AS first_seen, count(DISTINCT user_id) AS users
FROM consent_events
GROUP BY app_version
ORDER BY first_seen

-- @case users_per_device_distribution
SELECT users, count(*) AS devices
FROM (SELECT device_id, count(DISTINCT user_id) AS users FROM consent_events GROUP BY device_id) AS t
GROUP BY users

-- @case ip_reuse_across_users_counted
SELECT count(*) AS shared_ips
FROM (SELECT ip_address FROM consent_events GROUP BY ip_address HAVING count(DISTINCT user_id) > 1) AS t

-- @case pii_join_self
SELECT a.platform, count(*) AS pairs
FROM consent_events AS a
JOIN consent_events AS b ON a.ip_address = b.ip_address AND a.event_time < b.event_time
GROUP BY a.platform

-- @case pii_in_case_inside_count
SELECT count(DISTINCT CASE WHEN choice = 'reject_all' THEN device_id END) AS rejecting_devices FROM consent_events

-- @case count_distinct_multiple_pii
SELECT count(DISTINCT (device_id, ip_address)) AS device_ip_pairs FROM consent_events

-- @case count_over_partition_non_pii
SELECT DISTINCT platform, count(*) OVER (PARTITION BY platform) AS n FROM consent_events

-- @case sum_window_over_aggregate
SELECT region, count(*) AS n, sum(count(*)) OVER (ORDER BY region) AS cum FROM consent_events GROUP BY region

-- @case correlation_hour_reject
SELECT corr(hour(event_time), CASE WHEN choice = 'reject_all' THEN 1 ELSE 0 END) IS NOT NULL AS has_corr
FROM consent_events

-- @case regr_slope_daily
SELECT regr_slope(n, d) IS NOT NULL AS has_slope
FROM (SELECT epoch(date_trunc('day', event_time)) / 86400 AS d, count(*) AS n FROM consent_events GROUP BY 1) AS t

-- @case variance_hourly
SELECT var_pop(n) AS v, stddev_pop(n) AS s
FROM (SELECT date_trunc('hour', event_time) AS h, count(*) AS n FROM consent_events GROUP BY 1) AS t

-- @case mode_choice
SELECT platform, mode(choice) AS most_common FROM consent_events GROUP BY platform

-- @case abs_sign_math
SELECT abs(n - 200) AS dist, sign(n - 200) AS side
FROM (SELECT count(*) AS n FROM consent_events GROUP BY platform) AS t

-- @case log_sqrt_power
SELECT platform, ln(count(*)) AS ln_n, sqrt(count(*)) AS sq, power(count(*), 2) AS p2 FROM consent_events GROUP BY platform

-- @case floor_ceil
SELECT floor(hour(event_time) / 6) AS quarter_day, ceil(count(*) / 10.0) AS tens FROM consent_events GROUP BY 1

-- @case if_function
SELECT if(choice = 'reject_all', 'reject', 'other') AS c, count(*) AS n FROM consent_events GROUP BY 1

-- @case last_day_month
SELECT last_day(CAST(event_time AS DATE)) AS month_end, count(*) AS n FROM consent_events GROUP BY 1

-- @case make_date_compare
SELECT count(*) AS n FROM consent_events WHERE CAST(event_time AS DATE) >= make_date(2026, 3, 12)

-- @case date_add_interval
SELECT deploy_id, deployed_at + INTERVAL 2 HOUR AS settle_at FROM deployments

-- @case age_function
SELECT deploy_id, age(TIMESTAMP '2026-03-15', deployed_at) AS since FROM deployments

-- @case week_and_year
SELECT year(event_time) AS y, week(event_time) AS w, count(*) AS n FROM consent_events GROUP BY 1, 2

-- @case hash_non_pii_bucketing
SELECT hash(user_id) % 10 AS shard, count(*) AS n FROM consent_events GROUP BY 1

-- @case md5_user_bucket_non_pii
SELECT substr(md5(user_id), 1, 1) AS bucket, count(*) AS n FROM consent_events GROUP BY 1

-- @case json_object_non_pii
SELECT to_json({'platform': platform, 'n': count(*)}) AS j FROM consent_events GROUP BY platform

-- @case list_transform_lambda
SELECT list_transform(list(DISTINCT region ORDER BY region), lambda x: lower(x)) AS regions FROM consent_events

-- @case list_filter_lambda
SELECT list_filter(['android', 'ios', 'web'], lambda x: x <> 'web') AS mobile

-- @case array_length_non_pii
SELECT platform, len(list(DISTINCT region)) AS n_regions FROM consent_events GROUP BY platform

-- @case numeric_literals_only
SELECT 1 + 1 AS two, 'x' AS s, TRUE AS b, NULL AS nothing

-- @case parenthesized_query
(SELECT platform, count(*) AS n FROM consent_events GROUP BY platform)

-- @case engine_style_fully_qualified
SELECT "consent_events"."platform" AS "platform",
       AVG(CASE WHEN "consent_events"."choice" = 'reject_all' THEN 1.0 ELSE 0.0 END) AS "value"
FROM "consent_events" AS "consent_events"
WHERE "consent_events"."event_time" >= CAST('2026-03-10 00:00:00' AS TIMESTAMP)
GROUP BY "consent_events"."platform"

-- @case engine_style_affected_units
SELECT COUNT(DISTINCT "e"."user_id") AS "affected_units"
FROM "consent_events" AS "e"
WHERE "e"."platform" = 'android' AND ("e"."choice" = 'reject_all')

-- @case group_by_alias_shadowing_column
SELECT date_trunc('day', event_time) AS day, count(*) AS n FROM consent_events GROUP BY day

-- @case order_by_alias
SELECT platform AS p, count(*) AS n FROM consent_events GROUP BY p ORDER BY n DESC, p

-- @case having_alias
SELECT platform, count(*) AS n FROM consent_events GROUP BY platform HAVING n > 150

-- @case order_by_position
SELECT region, count(*) AS n FROM consent_events GROUP BY 1 ORDER BY 2 DESC, 1

-- @case where_not_and_or
SELECT count(*) AS n FROM consent_events WHERE NOT (platform = 'web' OR region = 'APAC') AND choice IS NOT NULL

-- @case case_with_else_null
SELECT avg(CASE WHEN platform = 'ios' THEN 1.0 END) AS ios_share_of_nonnull FROM consent_events

-- @case count_star_alone
SELECT count(*) FROM consent_events

-- @case max_assigned_per_arm
SELECT arm, max(assigned_at) AS latest FROM experiment_assignments GROUP BY arm

-- @case experiment_exposure_timing
SELECT a.arm, avg(epoch(e.event_time) - epoch(a.assigned_at)) / 3600 > -1000 AS sane
FROM experiment_assignments AS a
JOIN consent_events AS e ON e.user_id = a.user_id
GROUP BY a.arm

-- @case experiment_srm_check
SELECT experiment_id,
       sum(CASE WHEN arm = 'control' THEN 1 ELSE 0 END) AS control_n,
       sum(CASE WHEN arm <> 'control' THEN 1 ELSE 0 END) AS treatment_n
FROM experiment_assignments
GROUP BY experiment_id

-- @case experiment_filter_on_pii_user
SELECT arm, count(*) AS n FROM experiment_assignments WHERE user_id LIKE 'u1%' GROUP BY arm

-- @case experiment_join_on_pii_output_other_side
SELECT e.user_id, count(*) AS events
FROM consent_events AS e
JOIN experiment_assignments AS a ON a.user_id = e.user_id
WHERE a.arm = 'treatment'
GROUP BY e.user_id

-- @case unit_column_not_pii_in_events
SELECT DISTINCT user_id FROM consent_events WHERE choice = 'reject_all' ORDER BY user_id LIMIT 20

-- @case with_recursive_counter
WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 5)
SELECT n FROM r

-- @case window_named
SELECT platform, bucket, avg(n) OVER w AS ma
FROM (SELECT platform, date_trunc('hour', event_time) AS bucket, count(*) AS n FROM consent_events GROUP BY 1, 2) AS t
WINDOW w AS (PARTITION BY platform ORDER BY bucket ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)

-- @case exists_on_pii_correlated
SELECT count(*) AS repeat_ip_events
FROM consent_events AS c
WHERE EXISTS (
  SELECT 1 FROM consent_events AS c2
  WHERE c2.ip_address = c.ip_address AND c2.event_time < c.event_time
)

-- @case in_subquery_on_pii
SELECT platform, count(*) AS n
FROM consent_events
WHERE device_id IN (SELECT device_id FROM consent_events WHERE choice = 'reject_all')
GROUP BY platform

-- @case scalar_subquery_in_where
SELECT count(*) AS n
FROM consent_events
WHERE event_time > (SELECT max(deployed_at) FROM deployments WHERE platform = 'android')

-- @case any_all_comparison
SELECT count(*) AS n FROM consent_events WHERE event_time > ALL (SELECT deployed_at FROM deployments WHERE region = 'US')

-- @case nested_ctes_in_subquery
SELECT * FROM (
  WITH x AS (SELECT region, count(*) AS n FROM consent_events GROUP BY region)
  SELECT region, n FROM x WHERE n > 0
) AS t

-- @case cte_name_like_table_shadow_free
WITH events AS (SELECT platform, choice FROM consent_events)
SELECT platform, count(*) AS n FROM events GROUP BY platform

-- @case timestamp_literal_compare
SELECT count(*) AS n FROM consent_events WHERE event_time < TIMESTAMP '2026-03-11 00:00:00'

-- @case date_literal_compare
SELECT count(*) AS n FROM consent_events WHERE CAST(event_time AS DATE) = DATE '2026-03-12'

-- @case to_timestamp_epoch
SELECT to_timestamp(1773100800) < max(event_time) AS before_last FROM consent_events

-- @case count_if_on_pii_predicate
SELECT count_if(ip_address LIKE '10.0.4.%') AS subnet_hits FROM consent_events

-- @case avg_of_case_non_pii_in_window
SELECT DISTINCT platform,
       avg(CASE WHEN choice = 'reject_all' THEN 1.0 ELSE 0.0 END) OVER (PARTITION BY platform) AS rate
FROM consent_events

-- @case where_on_cte_pii_then_count
WITH suspicious AS (SELECT device_id FROM consent_events GROUP BY device_id HAVING count(DISTINCT ip_address) > 1)
SELECT count(*) AS n_devices FROM suspicious

-- @case pii_filter_through_join_cte
WITH bad_ips AS (SELECT ip_address FROM consent_events WHERE choice = 'reject_all')
SELECT e.platform, count(*) AS n
FROM consent_events AS e
JOIN bad_ips AS b ON b.ip_address = e.ip_address
GROUP BY e.platform
