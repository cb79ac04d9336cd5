"""SQL guard: the one gate every query (engine-built or LLM-written) passes before it reaches the warehouse.

Decisions are taken on sqlglot's parsed tree, never on keywords (in the spirit of Apache Superset's
``sql/parse.py``): a keyword inside a string or a comment cannot fool it, and a dangerous construct
cannot hide behind spacing, quoting or case.

Rules and their machine names (``GuardResult.rule``); the message names the offending statement, table,
column or function and, for unknown names, suggests the closest existing ones:

1. ``parse_error`` / ``single_statement`` -- the text parses in the catalog dialect and holds exactly
   one statement (comments are fine and are dropped from the output; ``sqlglot.meta`` directives in
   comments are refused because they change how sqlglot reads identifiers).
2. ``read_only`` -- the root is a SELECT (or a UNION/INTERSECT/EXCEPT of SELECTs, optionally under a
   WITH), and nothing anywhere in the tree writes, changes schema or session state, locks, copies,
   attaches, installs, loads, describes or prepares; unparsed statements (``exp.Command``) are refused.
3. ``forbidden_function`` -- no function that reaches the file system, the network, settings or the
   database's internals. Functions sqlglot does not know (``exp.Anonymous``) must be on a small
   allow-list of pure functions; table functions are limited to unnest / generate_series / range;
   DuckDB ``COLUMNS(...)`` is refused. ``file_access``: a file path or URL used as a table
   (``FROM 'x.csv'``). ``unsupported``: PIVOT/UNPIVOT/MATCH_RECOGNIZE and column alias lists on catalog
   tables (``FROM t AS a(x, y)``), whose output columns cannot be checked.
4. ``limit_not_literal`` -- every LIMIT / OFFSET / FETCH is a non-negative integer literal.
5. ``table_not_allowed`` -- only catalog tables (and CTEs in scope) are read; schema- or
   catalog-qualified names (``information_schema.tables``, ``main.t``) are refused.
6. ``unknown_column`` -- every column resolves against the catalog (sqlglot ``qualify`` with
   ``validate_qualify_columns``, plus HAVING/QUALIFY names qualify leaves alone).
7. ``pii_exposed`` -- no PII column reaches the result: see :class:`_PiiTracker`. A PII column may be
   filtered on, joined on, grouped/ordered by without being returned, or counted
   (``count``, ``count(distinct)``, ``approx_count_distinct``, ``count_if``); any other use that ends
   up in an output column (raw, aliased, cast, hashed, concatenated, packed in a struct/list/row,
   aggregated with min/max/string_agg/..., inside a window, through ``*``, a CTE, a derived table,
   a scalar subquery or a set-operation branch) is refused.
8. ``transpile_error`` -- the validated query must transpile to the warehouse dialect without loss.

Rules 1-4 are decided in one walk over the parsed tree (the first offending node wins), then 5-8 in order.

On success the *qualified* tree (every column bound to its table, aliases made explicit) gets its LIMIT
forced to ``max_rows`` and is generated in ``write_dialect``: what runs is exactly what was checked.
Unaliased computed columns come back named ``_col_<n>``.

Known limits: PII may be *tested* through filters (``WHERE ip_address LIKE '10.%'``) and counts, by design;
warehouse error messages can echo a value (``CAST(ip_address AS INT)`` in a WHERE fails with the IP in the
text), so whoever runs the SQL must not forward warehouse errors verbatim to an LLM or a user.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, OptimizeError, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema
from sqlglot.tokens import TokenType

__all__ = [
    "RULES",
    "CompiledPolicy",
    "GuardPolicy",
    "GuardResult",
    "compile_policy",
    "guard_sql",
]

RULES: tuple[str, ...] = (
    "parse_error",
    "single_statement",
    "read_only",
    "forbidden_function",
    "file_access",
    "unsupported",
    "limit_not_literal",
    "table_not_allowed",
    "unknown_column",
    "pii_exposed",
    "transpile_error",
)


# --------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------

with warnings.catch_warnings():
    # `schema` is the natural name (sqlglot MappingSchema shape) but shadows BaseModel.schema(),
    # a deprecated pydantic v1 classmethod nobody calls on this model.
    warnings.filterwarnings("ignore", message='Field name "schema"', category=UserWarning)

    class GuardPolicy(BaseModel):
        """What a query may touch: the catalog's tables/columns, its PII columns and a row cap.

        Frozen and hashable so the compiled form (:func:`compile_policy`) can be cached per policy.
        """

        model_config = ConfigDict(frozen=True)

        read_dialect: str
        write_dialect: str
        schema: dict[str, dict[str, str]]  # type: ignore[assignment]  # shadows the deprecated BaseModel.schema
        pii: dict[str, list[str]] = Field(default_factory=dict)
        max_rows: int = Field(default=10_000, gt=0)

        @field_validator("read_dialect", "write_dialect")
        @classmethod
        def _known_dialect(cls, value: str) -> str:
            try:
                Dialect.get_or_raise(value)
            except ValueError as err:
                raise ValueError(f"unknown sqlglot dialect {value!r}") from err
            return value

        def __hash__(self) -> int:
            # Computed from the fields every time (a few microseconds): a cached value would go stale
            # under model_copy(update=...), which skips validation and post-init hooks.
            return hash(
                (
                    self.read_dialect,
                    self.write_dialect,
                    tuple(sorted((t, tuple(sorted(cols.items()))) for t, cols in self.schema.items())),
                    tuple(sorted((t, tuple(sorted(cols))) for t, cols in self.pii.items())),
                    self.max_rows,
                )
            )


class GuardResult(BaseModel):
    """Verdict on one query; ``sql`` is what may be run (None when refused)."""

    ok: bool
    sql: str | None = None
    rule: str | None = None
    message: str | None = None


class _Reject(Exception):
    """Internal: the first failed rule, turned into a GuardResult by guard_sql."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


# --------------------------------------------------------------------------------------------------
# Compiled policy
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledPolicy:
    """Per-policy state built once: sqlglot schema and normalized name sets."""

    policy: GuardPolicy
    dialect: Dialect  # read dialect
    write: Dialect
    transpiles: bool  # write dialect differs: identifiers must be quoted where case matters
    mapping: MappingSchema
    columns: dict[str, tuple[str, ...]]  # normalized table -> normalized columns, catalog order
    pii: dict[str, frozenset[str]]  # normalized table -> normalized PII columns
    display: dict[str, str] = field(default_factory=dict)  # normalized table name -> catalog spelling


def _norm(name: str, dialect: str) -> str:
    """Normalize a catalog name the way the read dialect resolves an unquoted identifier."""
    return Dialect.get_or_raise(dialect).normalize_identifier(exp.to_identifier(name)).name


@lru_cache(maxsize=64)
def compile_policy(policy: GuardPolicy) -> CompiledPolicy:
    """Build (once per policy, cached) the sqlglot MappingSchema and lookup tables the guard needs."""
    dialect = policy.read_dialect
    columns: dict[str, tuple[str, ...]] = {}
    display: dict[str, str] = {}
    for table, cols in policy.schema.items():
        key = _norm(table, dialect)
        columns[key] = tuple(_norm(c, dialect) for c in cols)
        display[key] = table
    pii = {_norm(t, dialect): frozenset(_norm(c, dialect) for c in cols) for t, cols in policy.pii.items()}
    # MappingSchema refuses column-less tables; they stay readable (count(*)) through `columns`.
    mapping = MappingSchema({t: cols for t, cols in policy.schema.items() if cols}, dialect=dialect)
    return CompiledPolicy(
        policy=policy,
        dialect=Dialect.get_or_raise(dialect),
        write=Dialect.get_or_raise(policy.write_dialect),
        transpiles=Dialect.get_or_raise(policy.write_dialect) != Dialect.get_or_raise(dialect),
        mapping=mapping,
        columns=columns,
        pii=pii,
        display=display,
    )


# --------------------------------------------------------------------------------------------------
# Allow / deny lists
# --------------------------------------------------------------------------------------------------

# Statement and clause types that write, change schema or session state, lock, move data in or out,
# or are statements we do not analyse. Looked up by name so a sqlglot release that renames one does
# not break the import (the root allow-list below still refuses anything that is not a SELECT).
_WRITE_NODE_NAMES = (
    "DDL DML Create Drop Alter AlterSession AlterColumn AlterRename AlterSet TruncateTable Insert Update "
    "Delete Merge Copy Export LoadData Attach Detach Install Pragma Set SetItem Use Command Transaction "
    "Commit Rollback Grant Revoke Analyze Cache Uncache Refresh Kill Describe Show Summarize Declare "
    "DeclareItem Execute ExecuteSql Comment Into Lock LockingStatement Put Get ListStage ConnectTo "
    "Disconnect Undrop SwapTable UserDefinedFunction StoredProcedure Block IfBlock WhileBlock LoopBlock "
    "Returning OnConflict Clone NextValueFor Heredoc MultitableInserts ConditionalInsert Vacuum "
    "Directory"
).split()
_WRITE_NODES: tuple[type, ...] = tuple(getattr(exp, n) for n in _WRITE_NODE_NAMES if hasattr(exp, n))

# Root types a query may have.
_ROOT_TYPES: tuple[type, ...] = (exp.Select, exp.SetOperation)

# Constructs whose output columns cannot be checked statically.
_UNSUPPORTED_NAMES = ("Pivot", "MatchRecognize", "UnpivotColumns")
_UNSUPPORTED: tuple[type, ...] = tuple(getattr(exp, n) for n in _UNSUPPORTED_NAMES if hasattr(exp, n))

# Known sqlglot function classes that read files, reach the network, reveal settings/identity or
# select columns dynamically.
_DENY_FUNC_NAMES = (
    "ReadCSV ReadParquet ToFile Secret Columns CurrentSetting CurrentUser CurrentUserId SessionUser "
    "CurrentRole CurrentRoleType CurrentAvailableRoles CurrentSecondaryRoles CurrentDatabase "
    "CurrentCatalog CurrentSchema CurrentSchemas CurrentSession CurrentStatement CurrentTransaction "
    "CurrentVersion CurrentAccount CurrentAccountName CurrentClient CurrentIpAddress CurrentRegion "
    "CurrentOrganizationName CurrentOrganizationUser CurrentWarehouse NetFunc GenerateTable "
    "JSONTable XMLTable SplitToTable StrtokSplitToTable"
).split()
_DENY_FUNCS: tuple[type, ...] = tuple(getattr(exp, n) for n in _DENY_FUNC_NAMES if hasattr(exp, n))

# Safety net on the SQL name of *any* function, known to sqlglot or not.
_DENY_NAME_RE = re.compile(
    r"^(read_|parquet_|sniff_csv|glob$|pg_|lo_|dblink|current_setting|set_config|getenv|getvariable|"
    r"query$|query_table|duckdb_|pragma_|sqlite_|postgres_|mysql_|iceberg_|delta_|http|s3|gcs|azure|"
    r"load_|install_|which_secret|to_file|copy|export|import|system|shell|exec|sleep|pg_sleep|setseed|"
    r"nextval|currval|setval|lastval|txid_|error$|make_secret|json_execute|sql_|checkpoint|"
    r"force_checkpoint|enable_|disable_|url)",
    re.IGNORECASE,
)

# Functions sqlglot parses as exp.Anonymous that are pure (no I/O, no settings, no side effects).
# Anything else unknown to sqlglot is refused: an unknown name could be a file/network table function
# or an extension. Exposure of PII through any of them is handled by the PII rule, not here.
_ANON_ALLOW: frozenset[str] = frozenset(
    """
    date_part datepart epoch_us epoch_ns epoch_ms epoch isoyear weekday yearweek date_sub datesub age now
    get_current_timestamp transaction_timestamp century millennium decade era julian microsecond
    millisecond nanosecond timezone_hour timezone_minute timezone to_hours to_minutes to_seconds
    to_milliseconds to_microseconds to_weeks to_months to_years to_days to_centuries to_decades
    to_millennia make_timestamptz make_interval try_strptime from_unixtime to_unixtime date_format
    date_parse interval_to_seconds time_bucket last_day dayofweek
    printf format_bytes formatreadablesize formatreadabledecimalsize bar suffix prefix strlen
    octet_length nfc_normalize strip_accents unicode ord initcap translate regexp_extract_all
    regexp_escape string_split_regex str_split_regex regexp_split_to_array string_to_array split
    jaccard damerau_levenshtein hamming mismatches like_escape ilike_escape contains_any
    mean fsum favg kahan_sum sumkahan entropy product geomean geometric_mean reservoir_quantile mad
    histogram histogram_exact arbitrary kurtosis_pop sem var stats count_star countif bool_xor
    bit_xor arg_max_null arg_min_null argmax argmin quantile_cont quantile_disc
    isfinite even gamma lgamma bit_count round_even roundbankers xor signbit nextafter
    row array_value list_aggregate list_aggr aggregate list_sum list_count list_min list_max list_avg
    list_median list_mode list_stddev_samp list_var_samp list_first list_last list_any_value
    list_bool_and list_bool_or list_slice list_unique array_unique list_position list_indexof
    array_indexof list_has_all array_has_all list_has list_element element_at list_extract
    array_extract map_extract map_values map_entries map_concat cardinality list_zip array_zip
    list_concat list_cat array_cat list_append array_push_back list_prepend array_push_front
    list_reduce array_reduce list_apply array_apply apply list_select list_where list_grade_up
    array_grade_up list_reverse list_resize array_resize list_inner_product list_cosine_similarity
    list_distance generate_subscripts struct_insert struct_extract_at json_group_array
    json_group_object json_group_structure list_string_agg to_json json_array_length json_valid
    json_keys json_structure json_contains json_exists json_value json_transform json_merge_patch
    is_histogram_other_bin equi_width_bins enum_range enum_code enum_first enum_last alias hash
    """.split()
)

# Table functions that only generate values.
_SAFE_TABLE_FUNCS: tuple[type, ...] = (exp.GenerateSeries, exp.Unnest, exp.Explode)

# Aggregates through which a PII column may pass: they return a count, never a value.
_COUNT_LIKE: tuple[type, ...] = tuple(
    getattr(exp, n) for n in ("Count", "ApproxDistinct", "CountIf") if hasattr(exp, n)
)

_FILE_LIKE_RE = re.compile(r"[/\\:*?]|\.[A-Za-z0-9]{1,8}$")


def _func_sql_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        try:
            return node.sql_name().lower()
        except Exception:  # some classes have no SQL name; fall back to the class name
            return type(node).__name__.lower()
    return type(node).__name__.lower()


def _anon_name(node: exp.Expr) -> str | None:
    """Name of a function sqlglot does not know, else None."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    for cls_name in ("AnonymousAggFunc", "ParameterizedAgg", "CombinedAggFunc", "CombinedParameterizedAgg"):
        cls = getattr(exp, cls_name, None)
        if cls is not None and isinstance(node, cls):
            return str(node.name).lower()
    return None


# --------------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------------


def _parse(query: str | exp.Expr, dialect: Dialect) -> exp.Expr:
    """Rule 1: one statement that parses in the read dialect."""
    if isinstance(query, exp.Expr):
        return query.copy()
    if not isinstance(query, str) or not query.strip():
        raise _Reject("parse_error", "empty query: expected one SELECT statement")
    try:
        # A comment after the last ';' parses as an empty exp.Semicolon statement: not a statement.
        statements = [s for s in dialect.parse(query) if s is not None and not isinstance(s, exp.Semicolon)]
    except SqlglotError as err:
        name = type(dialect).__name__.lower()
        raise _Reject("parse_error", f"query does not parse as {name} SQL: {_parse_detail(err)}") from None
    if not statements:
        raise _Reject("parse_error", "empty query (only comments or semicolons): expected one SELECT")
    if len(statements) > 1:
        kinds = ", ".join(type(s).__name__.upper() for s in statements)
        raise _Reject(
            "single_statement",
            f"exactly one statement is allowed, got {len(statements)} ({kinds}) separated by ';'",
        )
    return statements[0]


def _parse_detail(err: SqlglotError) -> str:
    """First parse error as 'description (line l, col c)', without sqlglot's token dump."""
    errors = getattr(err, "errors", None) or []
    if errors:
        first = errors[0]
        description = str(first.get("description") or "syntax error")
        description = re.sub(r"<Token token_type: TokenType\.\w+, text: ([^,]*),.*?>", r"'\1'", description)
        where = f" (line {first.get('line')}, col {first.get('col')})" if first.get("line") else ""
        return f"{description}{where}"
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:200]


def _statement_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, (exp.Column, exp.Identifier, exp.Literal)):
        return repr(node.sql()[:40])
    return type(node).__name__.upper()


def _check_literal_count(node: exp.Expr | None, clause: str) -> int | None:
    """Rule 5: LIMIT/OFFSET/FETCH counts must be non-negative integer literals."""
    if node is None:
        return None
    value = node
    if isinstance(value, exp.Paren):
        value = value.unnest()
    if isinstance(value, exp.Literal) and not value.is_string:
        try:
            number = int(str(value.this))
        except ValueError:
            number = -1
        if number >= 0 and str(number) == str(value.this).strip():
            return number
    raise _Reject(
        "limit_not_literal",
        f"{clause} must be a non-negative integer literal, got {value.sql()!r}",
    )


_PLAIN, _WRITE, _UNSUPPORTED_KIND, _FUNC, _TABLE, _LIMIT, _OFFSET, _FETCH, _SESSION, _SELECT = range(10)
_KIND_BY_TYPE: dict[type, int] = {}


def _kind(node_type: type) -> int:
    """What _walk_checks must do with nodes of this class; computed once per class (isinstance is slow)."""
    kind = _KIND_BY_TYPE.get(node_type)
    if kind is None:
        if issubclass(node_type, _WRITE_NODES):
            kind = _WRITE
        elif issubclass(node_type, _UNSUPPORTED):
            kind = _UNSUPPORTED_KIND
        elif issubclass(node_type, exp.Func):
            kind = _FUNC
        elif issubclass(node_type, exp.Table):
            kind = _TABLE
        elif issubclass(node_type, exp.Limit):
            kind = _LIMIT
        elif issubclass(node_type, exp.Offset):
            kind = _OFFSET
        elif issubclass(node_type, exp.Fetch):
            kind = _FETCH
        elif issubclass(node_type, exp.SessionParameter):
            kind = _SESSION
        elif issubclass(node_type, exp.Select):
            kind = _SELECT
        else:
            kind = _PLAIN
        _KIND_BY_TYPE[node_type] = kind
    return kind


def _walk_checks(tree: exp.Expr) -> None:
    """Rules 1-3 and 5 in one pass over the raw tree: comments, statements, functions, limits."""
    if not isinstance(tree, _ROOT_TYPES):
        raise _Reject(
            "read_only",
            f"only SELECT queries are allowed; got {_statement_name(tree)}",
        )
    for node in tree.walk():
        comments = node.comments
        if comments:
            if any(exp.SQLGLOT_META in c for c in comments):
                raise _Reject("parse_error", "comments carrying 'sqlglot.meta' directives are not allowed")
            node.comments = None
        kind = _kind(type(node))
        if kind == _PLAIN:
            continue
        if kind == _WRITE:
            raise _Reject(
                "read_only",
                f"the query must be read-only; found {_statement_name(node)} in {_context(node)}",
            )
        if kind == _UNSUPPORTED_KIND:
            label = "UNPIVOT" if node.args.get("unpivot") else type(node).__name__.upper()
            raise _Reject(
                "unsupported",
                f"{label} is not supported: its output columns cannot be checked; aggregate with "
                "GROUP BY and CASE instead",
            )
        if kind == _FUNC:
            _check_function(cast(exp.Func, node))
        elif kind == _TABLE:
            if isinstance(node.this, exp.Func):
                if not isinstance(node.this, _SAFE_TABLE_FUNCS):
                    raise _Reject(
                        "forbidden_function",
                        f"table function {_func_sql_name(node.this)}() is not allowed; only catalog tables "
                        "and unnest/generate_series/range may be used in FROM",
                    )
            elif not isinstance(node.this, exp.Identifier):  # FROM ?, FROM $1, FROM (expr)...
                raise _Reject("table_not_allowed", f"{node.sql()!r} is not a catalog table name")
        elif kind == _LIMIT:
            options = node.args.get("limit_options")
            if options is not None and options.args.get("percent"):
                raise _Reject("limit_not_literal", "LIMIT ... PERCENT is not allowed; use a row count")
            _check_literal_count(node.expression, "LIMIT")
            _check_literal_count(node.args.get("offset"), "OFFSET")
        elif kind == _OFFSET:
            _check_literal_count(node.expression, "OFFSET")
        elif kind == _FETCH:
            if node.args.get("percent"):
                raise _Reject("limit_not_literal", "FETCH ... PERCENT is not allowed; use a row count")
            _check_literal_count(node.args.get("count"), "FETCH")
        elif kind == _SESSION:
            raise _Reject("forbidden_function", f"session parameter {node.sql()} is not allowed")
        elif kind == _SELECT and not node.expressions:
            raise _Reject("parse_error", "a SELECT has no output columns (a comment may have swallowed them)")


def _context(node: exp.Expr) -> str:
    """A short human hint of where a node sits (CTE name, subquery, ...)."""
    cte = node.find_ancestor(exp.CTE)
    if cte is not None:
        return f"CTE {cte.alias_or_name!r}"
    if node.find_ancestor(exp.Subquery) is not None:
        return "a subquery"
    return "the query"


def _check_function(node: exp.Func) -> None:
    """Rule 3 on one function node."""
    anon = _anon_name(node)
    name = anon if anon is not None else _func_sql_name(node)
    if isinstance(node, exp.Columns):
        raise _Reject(
            "forbidden_function",
            "COLUMNS(...) picks columns at run time, so the guard cannot check them; list the columns",
        )
    if isinstance(node, _DENY_FUNCS) or _DENY_NAME_RE.match(name):
        raise _Reject(
            "forbidden_function",
            f"function {name}() is not allowed: it reads files, reaches the network, session settings "
            "or the database's internals",
        )
    if anon is not None and anon not in _ANON_ALLOW:
        raise _Reject(
            "forbidden_function",
            f"function {anon}() is not on the guard's allow-list of functions unknown to sqlglot; "
            "use a standard SQL function",
        )


def _check_tables(scopes: list[Scope], compiled: CompiledPolicy, tree: exp.Expr) -> None:
    """Rule 4: every table read is a catalog table or a CTE visible where it is used."""
    cte_refs: set[int] = set()
    for scope in scopes:
        for table in scope.tables:
            source = scope.sources.get(table.alias_or_name)
            if isinstance(source, Scope) and not table.args.get("db") and not table.args.get("catalog"):
                cte_refs.add(id(table))
    for table in tree.find_all(exp.Table):
        if id(table) in cte_refs or isinstance(table.this, exp.Func):
            continue
        _check_catalog_table(table, compiled)


def _check_catalog_table(table: exp.Table, compiled: CompiledPolicy) -> None:
    name_node = table.this
    if not isinstance(name_node, exp.Identifier):
        raise _Reject("table_not_allowed", f"table reference {table.sql()!r} is not a plain table name")
    name = name_node.name
    qualified = ".".join(p.name for p in table.parts)
    known = ", ".join(sorted(compiled.display.values())) or "(none)"
    if name not in compiled.columns and _FILE_LIKE_RE.search(name):
        raise _Reject(
            "file_access",
            f"{name!r} looks like a file path or URL; only catalog tables may be read ({known})",
        )
    if table.args.get("db") or table.args.get("catalog"):
        hint = " (it looks like a file name)" if re.search(r"\.(csv|parquet|json|tsv|txt|gz)$", qualified) else ""
        raise _Reject(
            "table_not_allowed",
            f"qualified table name {qualified!r} is not allowed{hint}; use the bare catalog table names: "
            f"{known}",
        )
    if name not in compiled.columns:
        close = difflib.get_close_matches(name, list(compiled.columns), n=3, cutoff=0.6)
        did_you_mean = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise _Reject(
            "table_not_allowed",
            f"table {name!r} is not in the catalog.{did_you_mean} Catalog tables: {known}",
        )
    alias = table.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.columns:
        # Positional renaming depends on the warehouse's column order, which the catalog does not
        # guarantee; a renamed PII column would slip past the PII rule.
        raise _Reject(
            "unsupported",
            f"column alias lists on catalog tables ({name} AS {alias.name}(...)) are not supported; "
            "alias the columns in the SELECT list instead",
        )


_COLUMN_ERROR_RES = (
    re.compile(r"Column '(?P<name>[^']+)' could not be resolved(?: for table: '(?P<table>[^']+)')?"),
    re.compile(r"Ambiguous column '(?P<name>[^']+)'"),
    re.compile(r"Unknown column: (?P<name>\S+)"),
    re.compile(r"Unknown output column: (?P<name>\S+)"),
)


def _unknown_column_message(err: OptimizeError, original: exp.Expr, compiled: CompiledPolicy) -> tuple[str, str]:
    """Turn a qualify error into (rule, message) naming the column and what the query could read."""
    text = str(err).splitlines()[0] if str(err) else "column could not be resolved"
    text = re.sub(r"\s*\(?Line: \d+, Col: \d+\)?", "", text)
    reused = re.search(r"Alias already used: (?P<name>\S+)", text)
    if reused:
        return "parse_error", f"alias {reused.group('name')!r} names two sources in the same FROM clause"
    unknown_table = re.search(r"Unknown table: (?P<table>\S+)", text)
    if unknown_table:
        return "table_not_allowed", f"unknown table {unknown_table.group('table')!r}"
    for pattern in _COLUMN_ERROR_RES:
        match = pattern.search(text)
        if match:
            name = match.group("name")
            table = match.groupdict().get("table")
            return "unknown_column", _explain_column(name, table, original, compiled)
    return "unknown_column", f"columns could not be resolved against the catalog: {text}"


def _source_columns(source: exp.Table | Scope, compiled: CompiledPolicy) -> tuple[str, list[str]]:
    """(label, columns) of one FROM source, for error messages."""
    if isinstance(source, exp.Table):
        if isinstance(source.this, exp.Func):
            alias = source.args.get("alias")
            return source.alias_or_name, [c.name for c in alias.columns] if alias else []
        return compiled.display.get(source.name, source.name), list(compiled.columns.get(source.name, ()))
    expression = source.expression
    if isinstance(expression, exp.Query):
        return "", [n for n in expression.named_selects if n]
    alias = expression.args.get("alias")
    return "", [c.name for c in alias.columns] if isinstance(alias, exp.TableAlias) else []


def _explain_column(name: str, table: str | None, original: exp.Expr, compiled: CompiledPolicy) -> str:
    """Why `table.name` does not resolve, judged from the scope where it is used, with suggestions."""
    try:
        scopes = traverse_scope(original)
    except SqlglotError:
        scopes = []
    by_select = {id(s.expression): s for s in scopes}
    for column in original.find_all(exp.Column):
        if column.name != name or (table and column.table != table):
            continue
        query = column.find_ancestor(exp.Select)
        scope = by_select.get(id(query)) if query is not None else None
        if scope is None:
            continue
        visible: dict[str, list[str]] = {}
        current: Scope | None = scope
        while current is not None:
            for alias, source in current.sources.items():
                label, columns = _source_columns(source, compiled)
                visible.setdefault(alias, columns)
            current = current.parent
        qualifier = table or column.table
        if qualifier:
            if qualifier not in visible:
                return (
                    f"column {qualifier}.{name}: {qualifier!r} is not a table or alias in scope "
                    f"(in scope: {', '.join(sorted(visible)) or 'none'})"
                )
            if name in visible[qualifier]:
                continue
            pool = {qualifier: visible[qualifier]}
        else:
            owners = sorted(alias for alias, columns in visible.items() if name in columns)
            if len(owners) > 1:
                return f"ambiguous column {name!r}: it exists in {', '.join(owners)}; qualify it with an alias"
            if owners:
                continue
            pool = visible
        candidates = sorted({c for columns in pool.values() for c in columns} - {name})
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
        did_you_mean = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = "; ".join(f"{alias}: {', '.join(columns) or '?'}" for alias, columns in pool.items())
        where = f" in {qualifier!r}" if qualifier else ""
        return f"unknown column {name!r}{where}.{did_you_mean} Available: {listing}"
    candidates = sorted(_candidate_columns(original, compiled) - {name})
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    did_you_mean = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown column {name!r}.{did_you_mean}"


def _check_unbound_columns(
    tree: exp.Expr, original: Callable[[], exp.Expr], compiled: CompiledPolicy
) -> None:
    """Rule 6 where qualify does not look: a name qualify left unbound (HAVING, QUALIFY, ORDER BY)
    must be an output alias of its query, else it is an unknown column."""
    for column in tree.find_all(exp.Column):
        if column.table or isinstance(column.this, exp.Star):
            continue
        name = column.name
        query = column.find_ancestor(exp.Query)
        if query is not None and name in query.named_selects:
            continue
        lambda_ = column.find_ancestor(exp.Lambda)
        if lambda_ is not None and any(p.name == name for p in lambda_.expressions):
            continue
        raise _Reject("unknown_column", _explain_column(name, None, original(), compiled))


def _candidate_columns(tree: exp.Expr, compiled: CompiledPolicy) -> set[str]:
    names: set[str] = set()
    for table in tree.find_all(exp.Table):
        names.update(compiled.columns.get(table.name, ()))
    for select in tree.find_all(exp.Select):
        names.update(n for n in select.named_selects if n)
    return names


# --------------------------------------------------------------------------------------------------
# PII taint
# --------------------------------------------------------------------------------------------------


class _PiiTracker:
    """Which output columns of each scope carry a PII value.

    A scope's output column is *tainted* when its expression contains a PII catalog column, or a tainted
    column of a child scope (CTE, derived table, lateral, unnest, scalar subquery), anywhere except
    inside a count-like aggregate (count, count(distinct), approx_count_distinct, count_if) or the
    FILTER (WHERE ...) clause of an aggregate. Predicates (WHERE/HAVING/QUALIFY/ON), GROUP BY and
    ORDER BY are not outputs, so PII may be used there freely. The query is refused when the root's
    outputs are tainted or when any set-operation branch outputs a tainted column.
    """

    def __init__(self, scopes: list[Scope], compiled: CompiledPolicy) -> None:
        self.scopes = scopes
        self.compiled = compiled
        self.by_expr: dict[int, Scope] = {id(s.expression): s for s in scopes}
        self.outputs_memo: dict[int, dict[str, str | None]] = {}
        self.in_progress: set[int] = set()

    # -- public --------------------------------------------------------------------------------------
    def check(self) -> None:
        for scope in self.scopes:  # every UNION/INTERSECT/EXCEPT, wherever it sits, checks its branches
            if isinstance(scope.expression, exp.SetOperation):
                self.outputs(scope)
        root = self.scopes[-1]
        for name, reason in self.outputs(root).items():
            if reason:
                raise _Reject(
                    "pii_exposed",
                    f"result column {name!r}{self._shown(root, name)} exposes PII column {reason}. "
                    "PII may only be filtered on (WHERE/HAVING/ON), grouped or ordered by without being "
                    "returned, or counted (count, count(DISTINCT ...), approx_count_distinct).",
                )

    def _shown(self, scope: Scope, name: str) -> str:
        """The projection's SQL, so the message shows the offending expression, not just its alias."""
        if not isinstance(scope.expression, exp.Select):
            return ""
        for projection in scope.expression.expressions:
            if projection.alias_or_name == name:
                inner = projection.unalias() if isinstance(projection, exp.Alias) else projection
                text = inner.sql(dialect=self.compiled.dialect)
                return f" ({text[:117] + '...' if len(text) > 120 else text})"
        return ""

    # -- scope outputs -------------------------------------------------------------------------------
    def outputs(self, scope: Scope) -> dict[str, str | None]:
        key = id(scope)
        memo = self.outputs_memo.get(key)
        if memo is not None:
            return memo
        if key in self.in_progress:  # recursive CTE: taint can only enter through its branches
            return {}
        self.in_progress.add(key)
        try:
            result = self._compute_outputs(scope)
        finally:
            self.in_progress.discard(key)
        self.outputs_memo[key] = result
        return result

    def _compute_outputs(self, scope: Scope) -> dict[str, str | None]:
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            return self._set_operation_outputs(expression)
        if isinstance(expression, exp.Select):
            result: dict[str, str | None] = {}
            for projection in expression.expressions:
                name = projection.alias_or_name
                reason = self.taint(projection, scope)
                result[name] = result.get(name) or reason
            return result
        if isinstance(expression, exp.Lateral):
            inner = expression.this.unnest() if isinstance(expression.this, exp.Subquery) else expression.this
            child = self.by_expr.get(id(inner))
            if child is not None:
                return self._positional(self.outputs(child), expression)
        # UDTF (unnest, generate_series, ...) or anything else: all outputs share the argument taint.
        owner = scope.parent or scope
        reason = self.taint(expression, owner)
        return {"*": reason}

    def _positional(self, outputs: dict[str, str | None], node: exp.Expr) -> dict[str, str | None]:
        alias = node.args.get("alias")
        columns = alias.columns if isinstance(alias, exp.TableAlias) else []
        if not columns:
            return outputs
        reasons = list(outputs.values())
        if len(reasons) != len(columns):
            merged = next((r for r in reasons if r), None)
            return {c.name: merged for c in columns}
        return {c.name: r for c, r in zip(columns, reasons, strict=True)}

    def _set_operation_outputs(self, expression: exp.SetOperation) -> dict[str, str | None]:
        branches = [expression.left, expression.right]
        names: list[str] = []
        for index, branch in enumerate(branches):
            inner = branch.unnest() if isinstance(branch, exp.Subquery) else branch
            child = self.by_expr.get(id(inner))
            outputs = self.outputs(child) if child is not None else {"*": "an unanalysed branch"}
            for name, reason in outputs.items():
                if reason:
                    side = "first" if index == 0 else "second"
                    raise _Reject(
                        "pii_exposed",
                        f"the {side} branch of {type(expression).__name__.upper()} returns column "
                        f"{name!r}, which exposes PII column {reason}; set-operation branches may not "
                        "return PII",
                    )
            if index == 0:
                names = list(outputs)
        return dict.fromkeys(names)

    # -- expressions ---------------------------------------------------------------------------------
    def taint(self, node: exp.Expr, scope: Scope) -> str | None:
        """The PII column (as 'table.column') that `node` exposes in `scope`, or None."""
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, _COUNT_LIKE):
                continue
            if isinstance(current, exp.Filter):
                stack.append(current.this)  # the FILTER (WHERE ...) part is a predicate
                continue
            if current is not node and isinstance(current, (exp.Select, exp.SetOperation)):
                child = self.by_expr.get(id(current))
                if child is not None:
                    reason = next((r for r in self.outputs(child).values() if r), None)
                    if reason:
                        return reason
                    continue
            if isinstance(current, exp.Column):
                if isinstance(current.this, exp.Star):
                    reason = self._source_taint(current.table, scope)
                else:
                    reason = self._column_taint(current, scope)
                if reason:
                    return reason
                continue
            if isinstance(current, exp.TableColumn):
                reason = self._source_taint(current.name, scope)
                if reason:
                    return reason
                continue
            if isinstance(current, exp.Star):
                reason = self._any_source_taint(scope)
                if reason:
                    return reason
                continue
            stack.extend(current.iter_expressions())
        return None

    def _resolve(self, scope: Scope, name: str) -> tuple[exp.Table | Scope | None, Scope | None]:
        current: Scope | None = scope
        while current is not None:
            source = current.sources.get(name)
            if source is not None:
                return source, current
            current = current.parent
        return None, None

    def _column_taint(self, column: exp.Column, scope: Scope) -> str | None:
        table_name = column.table
        name = column.name
        if not table_name:
            # An unbound name in an output (qualify validated the rest): be conservative and treat it
            # as tainted if anything this scope can see carries PII.
            return self._any_source_taint(scope)
        source, owner = self._resolve(scope, table_name)
        if source is None:
            return f"{table_name}.{name} (unresolved)"
        return self._source_column_taint(source, owner or scope, name)

    def _source_column_taint(self, source: exp.Table | Scope, owner: Scope, name: str) -> str | None:
        if isinstance(source, exp.Table):
            if isinstance(source.this, exp.Func):
                return self.taint(source.this, owner)
            table = source.name
            if name in self.compiled.pii.get(table, ()):
                return f"{self.compiled.display.get(table, table)}.{name}"
            return None
        outputs = self.outputs(source)
        if name in outputs:
            return outputs[name]
        return next((r for r in outputs.values() if r), None)

    def _source_taint(self, source_name: str, scope: Scope) -> str | None:
        source, owner = self._resolve(scope, source_name)
        if source is None:
            return f"{source_name}.* (unresolved)"
        return self._whole_source_taint(source, owner or scope)

    def _whole_source_taint(self, source: exp.Table | Scope, owner: Scope) -> str | None:
        if isinstance(source, exp.Table):
            if isinstance(source.this, exp.Func):
                return self.taint(source.this, owner)
            pii = sorted(self.compiled.pii.get(source.name, ()))
            if pii:
                return f"{self.compiled.display.get(source.name, source.name)}.{pii[0]}"
            return None
        return next((r for r in self.outputs(source).values() if r), None)

    def _any_source_taint(self, scope: Scope) -> str | None:
        current: Scope | None = scope
        while current is not None:
            for source in current.sources.values():
                reason = self._whole_source_taint(source, current)
                if reason:
                    return reason
            current = current.parent
        return None


# --------------------------------------------------------------------------------------------------
# Limit and output
# --------------------------------------------------------------------------------------------------


def _force_limit(tree: exp.Expr, max_rows: int) -> None:
    """Rule 5 on the root: add LIMIT max_rows, or lower a larger literal LIMIT / FETCH count to it."""
    limit = tree.args.get("limit")  # LIMIT n, or FETCH FIRST n ROWS (some dialects keep it here)
    if limit is None and isinstance(tree, exp.Select):
        limit = tree.args.get("fetch")
    if isinstance(limit, exp.Limit):
        current = _check_literal_count(limit.expression, "LIMIT")
        if current is None or current > max_rows:
            limit.set("expression", exp.Literal.number(max_rows))
        return
    if isinstance(limit, exp.Fetch):
        count = limit.args.get("count")
        current = _check_literal_count(count, "FETCH") if count is not None else 1  # FETCH FIRST ROW ONLY
        if current is None or current > max_rows:
            limit.set("count", exp.Literal.number(max_rows))
        return
    tree.set("limit", exp.Limit(expression=exp.Literal.number(max_rows)))


def guard_sql(query: str | exp.Expr, *, policy: GuardPolicy) -> GuardResult:
    """Validate one query against the policy; return the SQL to run or the rule it broke.

    Never raises for a bad query: every refusal is a GuardResult with ok=False, the rule's machine
    name and a message that says what to change.
    """
    compiled = compile_policy(policy)
    try:
        sql = _guard(query, compiled)
    except _Reject as rejection:
        return GuardResult(ok=False, sql=None, rule=rejection.rule, message=rejection.message)
    except RecursionError:
        return GuardResult(ok=False, rule="unsupported", message="the query is nested too deeply to analyse")
    except Exception as err:  # noqa: BLE001 - a gate fails closed: an analysis crash is a refusal
        return GuardResult(
            ok=False,
            rule="unsupported",
            message=f"the guard could not analyse this query ({type(err).__name__}: {err})"[:500],
        )
    return GuardResult(ok=True, sql=sql, rule=None, message=None)


def _prepare(query: str | exp.Expr, compiled: CompiledPolicy, *, check: bool) -> exp.Expr:
    """Parse (or copy) the query and unwrap a parenthesized root; run the tree checks, or, for error
    explanations (check=False), normalize names the way qualify would."""
    tree = _parse(query, compiled.dialect)
    while isinstance(tree, exp.Subquery) and {k for k, v in tree.args.items() if v} == {"this"}:
        tree = tree.this  # a parenthesized query: (SELECT ...)
    if check:
        _walk_checks(tree)
        return tree
    return normalize_identifiers(tree, dialect=compiled.dialect, store_original_column_identifiers=True)


def _scopes(tree: exp.Expr) -> list[Scope]:
    try:
        scopes = traverse_scope(tree)
    except OptimizeError as err:
        raise _Reject("parse_error", f"query structure is invalid: {err}") from None
    except SqlglotError as err:  # pragma: no cover - defensive
        raise _Reject("unsupported", f"the guard could not analyse this query: {err}") from None
    if not scopes:
        raise _Reject("read_only", "the query has no SELECT to analyse")
    return scopes


def _guard(query: str | exp.Expr, compiled: CompiledPolicy) -> str:
    policy = compiled.policy
    tree = _prepare(query, compiled, check=True)

    # qualify normalizes names (case folding, quoting) the way the warehouse resolves them, binds every
    # column to its source and expands stars; tables are checked on its result so the tree is walked once.
    try:
        tree = qualify(
            tree,
            dialect=compiled.dialect,
            schema=compiled.mapping,
            identify=False,
            quote_identifiers=compiled.transpiles,
            validate_qualify_columns=True,
        )
    except OptimizeError as err:
        # qualify rewrote the tree in place: judge tables first, then explain the column error, on a
        # fresh copy of the query.
        fresh = _prepare(query, compiled, check=False)
        _check_tables(_scopes(fresh), compiled, fresh)
        rule, message = _unknown_column_message(err, fresh, compiled)
        raise _Reject(rule, message) from None
    except SqlglotError as err:  # pragma: no cover - defensive
        raise _Reject("unsupported", f"the guard could not resolve this query's columns: {err}") from None

    scopes = _scopes(tree)
    _check_tables(scopes, compiled, tree)
    _check_unbound_columns(tree, lambda: _prepare(query, compiled, check=False), compiled)
    _PiiTracker(scopes, compiled).check()

    _force_limit(tree, policy.max_rows)
    try:
        # copy=False: the tree is ours and discarded; sqlglot would otherwise deep-copy it (~30% of the time).
        sql = compiled.write.generate(tree, copy=False, comments=False, unsupported_level=ErrorLevel.RAISE)
        # Defense in depth against generator bugs: what we hand out is one statement for the warehouse.
        multi = any(token.token_type == TokenType.SEMICOLON for token in compiled.write.tokenize(sql))
    except SqlglotError as err:
        raise _Reject(
            "transpile_error",
            f"the query cannot be translated to {policy.write_dialect} without loss: {err}",
        ) from None
    if multi:
        raise _Reject("transpile_error", "the generated SQL would hold more than one statement")
    return sql
