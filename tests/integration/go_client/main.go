// What a Go program does with ClickHouse's official client, clickhouse-go v2, over HTTP with the
// client's default settings: connect, create, batch-insert every common type, read back (Scan,
// ScanStruct, Select), bind parameters, pass settings, query ids and external tables, compress
// each way the client offers, use database/sql, get typed errors, stream a big result, keep a
// session. tests/integration/test_olap_go.py builds it and runs it against a private OLAP server.
//
// One line per check: "ok NAME detail" or "fail NAME reason"; the exit status is the number of
// failed checks (at most 100).
//
// Usage: go_client_check -addr HOST:PORT -user U -password P -reader-user R -reader-password RP
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

var (
	addr           = flag.String("addr", "127.0.0.1:8123", "the server's host:port")
	user           = flag.String("user", "default", "the admin user")
	password       = flag.String("password", "", "the admin's password")
	readerUser     = flag.String("reader-user", "", "a read-only user (its checks are skipped when empty)")
	readerPassword = flag.String("reader-password", "", "the read-only user's password")
	database       = flag.String("database", "default", "the database the check's tables go to")
	only           = flag.String("only", "", "run only the checks whose name starts with this")
)

var failed = 0

// check runs one named check and prints its line; a panic is a failure too.
func check(name string, body func() (string, error)) {
	if *only != "" && !strings.HasPrefix(name, *only) && name != "open.ping" { // the others need its connection
		return
	}
	detail, err := func() (detail string, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return body()
	}()
	if err != nil {
		failed++
		fmt.Printf("fail %s %s\n", name, oneLine(err.Error()))
		return
	}
	fmt.Printf("ok %s %s\n", name, oneLine(detail))
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// options are the client's defaults but for the address, the user and HTTP.
func options(username, pass string, change func(*clickhouse.Options)) *clickhouse.Options {
	o := &clickhouse.Options{
		Addr:     []string{*addr},
		Protocol: clickhouse.HTTP,
		Auth:     clickhouse.Auth{Database: *database, Username: username, Password: pass},
	}
	if change != nil {
		change(o)
	}
	return o
}

func open(username, pass string, change func(*clickhouse.Options)) (clickhouse.Conn, error) {
	return clickhouse.Open(options(username, pass, change))
}

// exception finds the server's *clickhouse.Exception in err and checks its code.
func exception(err error, code int32) (*clickhouse.Exception, error) {
	if err == nil {
		return nil, fmt.Errorf("no error, expected code %d", code)
	}
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) {
		return nil, fmt.Errorf("not a *clickhouse.Exception (%T): %v", err, err)
	}
	if ex.Code != code {
		return ex, fmt.Errorf("code %d (%s), expected %d: %s", ex.Code, ex.CodeName, code, ex.Message)
	}
	return ex, nil
}

// httpStatus is the status of a non-200 answer, 0 when the error carries none.
func httpStatus(err error) int {
	var he *clickhouse.HTTPError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return 0
}

// Row is one row of the table of every type; its tags serve AppendStruct, ScanStruct and Select.
type Row struct {
	ID     uint64            `ch:"id"`
	U8     uint8             `ch:"u8"`
	U16    uint16            `ch:"u16"`
	U32    uint32            `ch:"u32"`
	U64    uint64            `ch:"u64"`
	I8     int8              `ch:"i8"`
	I16    int16             `ch:"i16"`
	I32    int32             `ch:"i32"`
	I64    int64             `ch:"i64"`
	F32    float32           `ch:"f32"`
	F64    float64           `ch:"f64"`
	S      string            `ch:"s"`
	FS     string            `ch:"fs"`
	D      time.Time         `ch:"d"`
	D32    time.Time         `ch:"d32"`
	DT     time.Time         `ch:"dt"`
	DT64   time.Time         `ch:"dt64"`
	UID    uuid.UUID         `ch:"uid"`
	Flag   bool              `ch:"flag"`
	Dec    decimal.Decimal   `ch:"dec"`
	E      string            `ch:"e"`
	Tags   []string          `ch:"tags"`
	Counts map[string]uint64 `ch:"counts"`
	Pair   []any             `ch:"pair"`
	Maybe  *string           `ch:"maybe"`
	LC     string            `ch:"lc"`
	IP4    net.IP            `ch:"ip4"`
	IP6    net.IP            `ch:"ip6"`
	Big    *big.Int          `ch:"big"`
}

const typesTable = `(
	id UInt64, u8 UInt8, u16 UInt16, u32 UInt32, u64 UInt64, i8 Int8, i16 Int16, i32 Int32, i64 Int64,
	f32 Float32, f64 Float64, s String, fs FixedString(4), d Date, d32 Date32, dt DateTime,
	dt64 DateTime64(3, 'UTC'), uid UUID, flag Bool, dec Decimal(18, 4), e Enum8('red' = 1, 'green' = 2),
	tags Array(String), counts Map(String, UInt64), pair Tuple(String, Int64), maybe Nullable(String),
	lc LowCardinality(String), ip4 IPv4, ip6 IPv6, big Int128
) ENGINE = MergeTree ORDER BY id`

const typesColumns = "id, u8, u16, u32, u64, i8, i16, i32, i64, f32, f64, s, fs, d, d32, dt, dt64, uid, flag, dec, e, " +
	"tags, counts, pair, maybe, lc, ip4, ip6, big"

// makeRow is row i, with each type's edges on the first rows.
func makeRow(i uint64) Row {
	var maybe *string
	if i%3 != 0 {
		v := fmt.Sprintf("maybe-%d", i)
		maybe = &v
	}
	r := Row{
		ID: i, U8: uint8(i), U16: uint16(i * 7), U32: uint32(i * 100003), U64: i * 1_000_000_007,
		I8: int8(i) - 64, I16: -int16(i), I32: -int32(i * 1000), I64: -int64(i) * 1_000_000_000_000,
		F32: float32(i) / 4, F64: float64(i) / 3,
		S:    fmt.Sprintf("row %d: tab\tnewline\nquote' backslash\\ ünïcødé ✓", i),
		FS:   fmt.Sprintf("%04d", i%10000),
		D:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(i)),
		D32:  time.Date(1950, 6, 15, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(i)),
		DT:   time.Unix(1_700_000_000+int64(i)*61, 0).UTC(),
		DT64: time.UnixMilli(1_700_000_000_123 + int64(i)*1001).UTC(),
		UID:  uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint(i))),
		Flag: i%2 == 0,
		Dec:  decimal.New(int64(i)*12345-600000, -4),
		E:    []string{"red", "green"}[i%2],
		Tags: []string{fmt.Sprintf("t%d", i), "x"}[:i%3],
		Counts: map[string]uint64{
			"a": i, fmt.Sprintf("k%d", i%5): i * 2,
		},
		Pair:  []any{fmt.Sprintf("p%d", i), int64(i) - 5},
		Maybe: maybe,
		LC:    []string{"alpha", "beta", "gamma"}[i%3],
		IP4:   net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)).To4(),
		IP6:   net.ParseIP(fmt.Sprintf("2001:db8::%x", i)),
		Big:   new(big.Int).Mul(big.NewInt(int64(i)-500), new(big.Int).Lsh(big.NewInt(1), 70)),
	}
	if i == 0 { // edges
		r.U8, r.U16, r.U32, r.U64 = 255, 65535, 4294967295, 18446744073709551615
		r.I8, r.I16, r.I32, r.I64 = -128, -32768, -2147483648, -9223372036854775808
		r.S = ""
		r.Tags = []string{}
		r.Counts = map[string]uint64{}
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	return r
}

// canonical renders a row so that equal rows render equal whatever the client returned:
// times as instants, IPs and decimals by value.
func canonical(r Row) string {
	maybe := "NULL"
	if r.Maybe != nil {
		maybe = *r.Maybe
	}
	keys := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	counts := make([]string, 0, len(keys))
	for _, k := range keys {
		counts = append(counts, fmt.Sprintf("%s=%d", k, r.Counts[k]))
	}
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	wide := "<nil>"
	if r.Big != nil {
		wide = r.Big.String()
	}
	return fmt.Sprintf("%d|%d|%d|%d|%d|%d|%d|%d|%d|%v|%v|%q|%q|%s|%s|%d|%d|%s|%v|%s|%s|%q|%v|%#v|%q|%s|%s|%s|%s",
		r.ID, r.U8, r.U16, r.U32, r.U64, r.I8, r.I16, r.I32, r.I64, r.F32, r.F64, r.S, r.FS, day(r.D), day(r.D32),
		r.DT.Unix(), r.DT64.UnixMilli(), r.UID, r.Flag, r.Dec.String(), r.E, r.Tags, counts, r.Pair, maybe, r.LC,
		r.IP4.String(), r.IP6.String(), wide)
}

func compareRow(got Row) error {
	want := makeRow(got.ID)
	if g, w := canonical(got), canonical(want); g != w {
		return fmt.Errorf("row %d differs:\n got %s\nwant %s", got.ID, g, w)
	}
	return nil
}

// dynamic is the Go value a JSON path holds (a typed path gives it bare, a dynamic one wrapped).
func dynamic(v any) any {
	if d, ok := v.(clickhouse.Dynamic); ok {
		return d.Any()
	}
	return v
}

func appendRow(batch interface{ Append(...any) error }, r Row) error {
	return batch.Append(r.ID, r.U8, r.U16, r.U32, r.U64, r.I8, r.I16, r.I32, r.I64, r.F32, r.F64, r.S, r.FS,
		r.D, r.D32, r.DT, r.DT64, r.UID, r.Flag, r.Dec, r.E, r.Tags, r.Counts, r.Pair, r.Maybe, r.LC, r.IP4, r.IP6,
		r.Big)
}

const (
	appended   = 1000 // rows 0..999 by Append
	structured = 100  // rows 1000..1099 by AppendStruct
)

// scratchTable creates <database>.go_<name>_<suffix> with the given columns and engine; drop removes it.
func scratchTable(ctx context.Context, conn clickhouse.Conn, database, name, suffix, definition string) (t string, drop func(), err error) {
	t = fmt.Sprintf("%s.go_%s_%s", database, name, suffix)
	if err := conn.Exec(ctx, "CREATE TABLE "+t+" "+definition); err != nil {
		return "", nil, err
	}
	return t, func() { conn.Exec(ctx, "DROP TABLE "+t) }, nil
}

func main() {
	flag.Parse()
	ctx := context.Background()
	suffix := fmt.Sprintf("%x", time.Now().UnixNano())
	table := fmt.Sprintf("%s.go_types_%s", *database, suffix)

	var conn clickhouse.Conn
	check("open.ping", func() (string, error) {
		var err error
		if conn, err = open(*user, *password, nil); err != nil {
			return "", err
		}
		return "", conn.Ping(ctx)
	})
	if conn == nil {
		fmt.Println("fail open the other checks need a connection")
		os.Exit(100)
	}
	defer conn.Close()

	check("server.version", func() (string, error) {
		v, err := conn.ServerVersion()
		if err != nil {
			return "", err
		}
		if v.Version.Major < 20 || v.Revision == 0 || v.Timezone == nil {
			return "", fmt.Errorf("implausible server version %+v", v)
		}
		return fmt.Sprintf("%s %s revision %d timezone %s", v.DisplayName, v.Version, v.Revision, v.Timezone), nil
	})

	check("select.scalar", func() (string, error) {
		var answer uint16
		var text string
		if err := conn.QueryRow(ctx, "SELECT 40 + 2, 'hello'").Scan(&answer, &text); err != nil {
			return "", err
		}
		if answer != 42 || text != "hello" {
			return "", fmt.Errorf("got %d %q", answer, text)
		}
		return "42", nil
	})

	check("exec.ddl", func() (string, error) {
		if err := conn.Exec(ctx, "CREATE TABLE "+table+" "+typesTable); err != nil {
			return "", err
		}
		var engine string
		err := conn.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = {db:String} AND name = {t:String}",
			clickhouse.Named("db", *database), clickhouse.Named("t", "go_types_"+suffix)).Scan(&engine)
		if err != nil {
			return "", err
		}
		if engine != "MergeTree" {
			return "", fmt.Errorf("engine %q", engine)
		}
		return table, nil
	})

	check("batch.append", func() (string, error) {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table)
		if err != nil {
			return "", err
		}
		defer batch.Close()
		for i := uint64(0); i < appended; i++ {
			if err := appendRow(batch, makeRow(i)); err != nil {
				return "", fmt.Errorf("append row %d: %w", i, err)
			}
		}
		if err := batch.Send(); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d rows of %d columns", appended, len(batch.Columns())), nil
	})

	check("batch.append_struct", func() (string, error) {
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+typesColumns+")")
		if err != nil {
			return "", err
		}
		defer batch.Close()
		for i := uint64(appended); i < appended+structured; i++ {
			r := makeRow(i)
			if err := batch.AppendStruct(&r); err != nil {
				return "", fmt.Errorf("append struct %d: %w", i, err)
			}
		}
		if err := batch.Send(); err != nil {
			return "", err
		}
		var count uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&count); err != nil {
			return "", err
		}
		if count != appended+structured {
			return "", fmt.Errorf("%d rows in the table, expected %d", count, appended+structured)
		}
		return fmt.Sprintf("%d rows", structured), nil
	})

	check("query.scan", func() (string, error) {
		rows, err := conn.Query(ctx, "SELECT "+typesColumns+" FROM "+table+" ORDER BY id")
		if err != nil {
			return "", err
		}
		defer rows.Close()
		types := rows.ColumnTypes()
		if len(types) != 29 || types[16].DatabaseTypeName() != "DateTime64(3, 'UTC')" {
			return "", fmt.Errorf("column types %v", types)
		}
		n := 0
		for rows.Next() {
			var r Row
			if err := rows.Scan(&r.ID, &r.U8, &r.U16, &r.U32, &r.U64, &r.I8, &r.I16, &r.I32, &r.I64, &r.F32, &r.F64,
				&r.S, &r.FS, &r.D, &r.D32, &r.DT, &r.DT64, &r.UID, &r.Flag, &r.Dec, &r.E, &r.Tags, &r.Counts, &r.Pair,
				&r.Maybe, &r.LC, &r.IP4, &r.IP6, &r.Big); err != nil {
				return "", err
			}
			if uint64(n) != r.ID {
				return "", fmt.Errorf("row %d has id %d", n, r.ID)
			}
			if err := compareRow(r); err != nil {
				return "", err
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
		if n != appended+structured {
			return "", fmt.Errorf("%d rows read", n)
		}
		return fmt.Sprintf("%d rows equal", n), nil
	})

	check("query.scan_struct", func() (string, error) {
		rows, err := conn.Query(ctx, "SELECT * FROM "+table+" WHERE id % 7 = 0 ORDER BY id")
		if err != nil {
			return "", err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var r Row
			if err := rows.ScanStruct(&r); err != nil {
				return "", err
			}
			if err := compareRow(r); err != nil {
				return "", err
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
		if n != (appended+structured+6)/7 {
			return "", fmt.Errorf("%d rows read", n)
		}
		return fmt.Sprintf("%d rows equal", n), nil
	})

	check("select.structs", func() (string, error) {
		var got []Row
		if err := conn.Select(ctx, &got, "SELECT * FROM "+table+" WHERE id >= 990 ORDER BY id"); err != nil {
			return "", err
		}
		if len(got) != appended+structured-990 {
			return "", fmt.Errorf("%d rows selected", len(got))
		}
		for _, r := range got {
			if err := compareRow(r); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%d structs equal", len(got)), nil
	})

	check("types.json_variant_dynamic", func() (string, error) {
		t, drop, err := scratchTable(ctx, conn, *database, "json", suffix, "(id UInt64, v Variant(String, UInt64), d Dynamic, j JSON) ENGINE = MergeTree ORDER BY id")
		if err != nil {
			return "", err
		}
		defer drop()
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+t)
		if err != nil {
			return "", err
		}
		defer batch.Close()
		for i := uint64(0); i < 3; i++ {
			j := clickhouse.NewJSON()
			j.SetValueAtPath("name", fmt.Sprintf("n%d", i))
			j.SetValueAtPath("size.n", int64(i*10))
			var v any = fmt.Sprintf("s%d", i)
			if i%2 == 1 {
				v = i
			}
			if err := batch.Append(i, v, clickhouse.NewDynamicWithType(int64(i)-1, "Int64"), j); err != nil {
				return "", err
			}
		}
		if err := batch.Send(); err != nil {
			return "", err
		}
		rows, err := conn.Query(ctx, "SELECT id, v, d, j FROM "+t+" ORDER BY id")
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id uint64
			var v clickhouse.Variant
			var d clickhouse.Dynamic
			var j clickhouse.JSON
			if err := rows.Scan(&id, &v, &d, &j); err != nil {
				return "", err
			}
			name, _ := j.ValueAtPath("name")
			size, _ := j.ValueAtPath("size.n")
			got = append(got, fmt.Sprintf("%d %v %v %v %v", id, v.Any(), d.Any(), dynamic(name), dynamic(size)))
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
		want := []string{"0 s0 -1 n0 0", "1 1 0 n1 10", "2 s2 1 n2 20"}
		if !reflect.DeepEqual(got, want) {
			return "", fmt.Errorf("read %q, expected %q", got, want)
		}
		return strings.Join(got, "; "), nil
	})

	check("types.time_zones", func() (string, error) {
		// chdb writes Native as for revision 0, without a DateTime's zone; the server puts it back
		var t, t64 time.Time
		var name string
		err := conn.QueryRow(ctx, "SELECT toDateTime('2026-06-01 12:00:00', 'Asia/Tokyo'), "+
			"toDateTime64('2026-06-01 12:00:00.123', 3, 'America/New_York'), toTypeName(toDateTime(0, 'Asia/Tokyo'))").Scan(&t, &t64, &name)
		if err != nil {
			return "", err
		}
		if t.Location().String() != "Asia/Tokyo" || t.Format("15:04:05") != "12:00:00" {
			return "", fmt.Errorf("DateTime('Asia/Tokyo') read as %v", t)
		}
		if t64.Location().String() != "America/New_York" || t64.Format("15:04:05.000") != "12:00:00.123" {
			return "", fmt.Errorf("DateTime64(3, 'America/New_York') read as %v", t64)
		}
		return fmt.Sprintf("%s, %s", t, t64), nil
	})

	check("types.nested_and_wide", func() (string, error) {
		// many blocks of nested and wide types: the server sizes each column to frame the blocks
		rows, err := conn.Query(ctx, `SELECT number,
				toInt256(number) * toInt256('1000000000000000000000000000000') AS i256,
				toUInt256(number) AS u256, toDecimal256(number, 10) / 3 AS d256,
				[[toNullable(toInt32(number)), NULL], []] AS nested,
				toLowCardinality(if(number % 3 = 0, NULL, toNullable(toString(number % 7)))) AS lcn,
				map('k', range(number % 4)) AS m,
				CAST((number, toString(number)), 'Tuple(n UInt64, s String)') AS named,
				CAST(number % 2 + 1, 'Enum16(\'x\' = 1, \'y\' = 2)') AS e16
			FROM numbers(200000)`)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var n uint64
		for rows.Next() {
			var (
				number     uint64
				i256, u256 big.Int
				d256       decimal.Decimal
				nested     [][]*int32
				lcn        *string
				m          map[string][]uint8
				named      map[string]any
				e16        string
			)
			if err := rows.Scan(&number, &i256, &u256, &d256, &nested, &lcn, &m, &named, &e16); err != nil {
				return "", err
			}
			wantI := new(big.Int).Mul(new(big.Int).SetUint64(number), new(big.Int).Exp(big.NewInt(10), big.NewInt(30), nil))
			if number != n || i256.Cmp(wantI) != 0 || u256.Uint64() != number ||
				len(nested) != 2 || *nested[0][0] != int32(number) || nested[0][1] != nil || len(m["k"]) != int(number%4) ||
				named["n"] != number || named["s"] != fmt.Sprint(number) || e16 != []string{"x", "y"}[number%2] ||
				(lcn == nil) != (number%3 == 0) || (lcn != nil && *lcn != fmt.Sprint(number%7)) ||
				!d256.Equal(decimal.New(int64(number), 0).Div(decimal.New(3, 0)).Truncate(10)) {
				return "", fmt.Errorf("row %d: %d %v %v %v %v %v %v %v %q", n, number, &i256, &u256, d256, nested, lcn, m, named, e16)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
		if n != 200000 {
			return "", fmt.Errorf("%d rows", n)
		}
		return "200000 rows", nil
	})

	check("query_row", func() (string, error) {
		var s string
		var maybe *string
		if err := conn.QueryRow(ctx, "SELECT s, maybe FROM "+table+" WHERE id = 3").Scan(&s, &maybe); err != nil {
			return "", err
		}
		if s != makeRow(3).S || maybe != nil {
			return "", fmt.Errorf("got %q %v", s, maybe)
		}
		err := conn.QueryRow(ctx, "SELECT s FROM "+table+" WHERE id = 999999").Scan(&s)
		if !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("no row: %v, expected sql.ErrNoRows", err)
		}
		return "", nil
	})

	check("params.named_server_side", func() (string, error) {
		tricky := "tab\tnewline\nquote' backslash\\ {x:UInt8} ✓"
		var n uint16
		var s string
		var day time.Time
		err := conn.QueryRow(ctx, "SELECT {a:UInt8} + 1, {s:String}, {d:Date}",
			clickhouse.Named("a", 41), clickhouse.Named("s", tricky),
			clickhouse.Named("d", "2026-03-01")).Scan(&n, &s, &day)
		if err != nil {
			return "", err
		}
		if n != 42 || s != tricky || day.Format("2006-01-02") != "2026-03-01" {
			return "", fmt.Errorf("got %d %q %v", n, s, day)
		}
		var count uint64
		err = conn.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE id < {n:UInt64} AND e = {e:String}",
			clickhouse.Named("n", uint64(10)), clickhouse.Named("e", "green")).Scan(&count)
		if err != nil {
			return "", err
		}
		if count != 5 {
			return "", fmt.Errorf("count %d, expected 5", count)
		}
		return "", nil
	})

	check("params.with_parameters", func() (string, error) {
		pctx := clickhouse.Context(ctx, clickhouse.WithParameters(clickhouse.Parameters{
			"x": "7", "tags": "['a', 'b']", "t": "2026-01-02 03:04:05",
		}))
		var x uint8
		var tags []string
		var at time.Time
		if err := conn.QueryRow(pctx, "SELECT {x:UInt8}, {tags:Array(String)}, {t:DateTime('UTC')}").Scan(&x, &tags, &at); err != nil {
			return "", err
		}
		if x != 7 || !reflect.DeepEqual(tags, []string{"a", "b"}) || !at.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
			return "", fmt.Errorf("got %d %v %v", x, tags, at)
		}
		return "", nil
	})

	check("params.client_side", func() (string, error) {
		var n int64
		var s string
		if err := conn.QueryRow(ctx, "SELECT toInt64(?) + 1, ?", 41, "it's").Scan(&n, &s); err != nil {
			return "", err
		}
		if n != 42 || s != "it's" {
			return "", fmt.Errorf("positional: got %d %q", n, s)
		}
		if err := conn.QueryRow(ctx, "SELECT toInt64(@a) * 2, @b", clickhouse.Named("a", 21),
			clickhouse.Named("b", `back\slash`)).Scan(&n, &s); err != nil {
			return "", err
		}
		if n != 42 || s != `back\slash` {
			return "", fmt.Errorf("@named: got %d %q", n, s)
		}
		if err := conn.QueryRow(ctx, "SELECT toInt64($1) - $2", 50, 8).Scan(&n); err != nil {
			return "", err
		}
		if n != 42 {
			return "", fmt.Errorf("numeric: got %d", n)
		}
		return "", nil
	})

	check("settings.context", func() (string, error) {
		sctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
			"max_block_size": 1234, "max_threads": 1,
		}))
		var block, threads uint64
		if err := conn.QueryRow(sctx, "SELECT toUInt64(getSetting('max_block_size')), toUInt64(getSetting('max_threads'))").Scan(&block, &threads); err != nil {
			return "", err
		}
		if block != 1234 || threads != 1 {
			return "", fmt.Errorf("max_block_size %d, max_threads %d", block, threads)
		}
		if err := conn.QueryRow(ctx, "SELECT toUInt64(getSetting('max_block_size'))").Scan(&block); err != nil {
			return "", err
		}
		if block == 1234 {
			return "", errors.New("the setting outlived its query")
		}
		return "", nil
	})

	check("settings.options", func() (string, error) {
		c, err := open(*user, *password, func(o *clickhouse.Options) {
			o.Settings = clickhouse.Settings{"max_block_size": 4321}
		})
		if err != nil {
			return "", err
		}
		defer c.Close()
		var block uint64
		if err := c.QueryRow(ctx, "SELECT toUInt64(getSetting('max_block_size'))").Scan(&block); err != nil {
			return "", err
		}
		if block != 4321 {
			return "", fmt.Errorf("max_block_size %d", block)
		}
		return "", nil
	})

	check("query_id", func() (string, error) {
		id := "go-check-" + suffix
		var got string
		if err := conn.QueryRow(clickhouse.Context(ctx, clickhouse.WithQueryID(id)), "SELECT queryID()").Scan(&got); err != nil {
			return "", err
		}
		if got != id {
			return "", fmt.Errorf("queryID() is %q, expected %q", got, id)
		}
		return id, nil
	})

	check("progress.callbacks", func() (string, error) {
		// clickhouse-go reads progress and profile packets on the native protocol only; over HTTP
		// the callbacks are accepted and the query must still answer right.
		var progress, profiles int
		pctx := clickhouse.Context(ctx,
			clickhouse.WithProgress(func(*clickhouse.Progress) { progress++ }),
			clickhouse.WithProfileInfo(func(*clickhouse.ProfileInfo) { profiles++ }),
			clickhouse.WithSettings(clickhouse.Settings{"send_progress_in_http_headers": 1}))
		var sum uint64
		if err := conn.QueryRow(pctx, "SELECT sum(number) FROM numbers(2000000)").Scan(&sum); err != nil {
			return "", err
		}
		if sum != 1999999000000 {
			return "", fmt.Errorf("sum %d", sum)
		}
		return fmt.Sprintf("progress callbacks %d, profile callbacks %d", progress, profiles), nil
	})

	check("external_table", func() (string, error) {
		ids, err := ext.NewTable("go_ext_ids", ext.Column("id", "UInt64"), ext.Column("label", "String"),
			ext.Column("at", "DateTime"))
		if err != nil {
			return "", err
		}
		for _, id := range []uint64{2, 4, 8, 5000} {
			if err := ids.Append(id, fmt.Sprintf("label %d", id), time.Unix(1_800_000_000, 0)); err != nil {
				return "", err
			}
		}
		ectx := clickhouse.Context(ctx, clickhouse.WithExternalTable(ids))
		rows, err := conn.Query(ectx, "SELECT t.id, e.label, t.fs FROM "+table+" AS t INNER JOIN go_ext_ids AS e ON t.id = e.id ORDER BY t.id")
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id uint64
			var label, fs string
			if err := rows.Scan(&id, &label, &fs); err != nil {
				return "", err
			}
			got = append(got, fmt.Sprintf("%d:%s:%s", id, label, fs))
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
		want := []string{"2:label 2:0002", "4:label 4:0004", "8:label 8:0008"}
		if !reflect.DeepEqual(got, want) {
			return "", fmt.Errorf("got %v", got)
		}
		var at time.Time
		if err := conn.QueryRow(ectx, "SELECT max(at) FROM go_ext_ids").Scan(&at); err != nil {
			return "", err
		}
		if at.Unix() != 1_800_000_000 {
			return "", fmt.Errorf("max(at) %v", at)
		}
		return strings.Join(got, " "), nil
	})

	for _, method := range []clickhouse.CompressionMethod{clickhouse.CompressionLZ4, clickhouse.CompressionZSTD,
		clickhouse.CompressionGZIP, clickhouse.CompressionDeflate, clickhouse.CompressionBrotli} {
		check("compression."+method.String(), func() (string, error) {
			return compressed(ctx, method, suffix)
		})
	}

	check("errors.syntax", func() (string, error) {
		err := conn.Exec(ctx, "SELEC 1")
		if _, err := exception(err, 62); err != nil {
			return "", err
		}
		if status := httpStatus(err); status != 400 {
			return "", fmt.Errorf("HTTP status %d, expected 400", status)
		}
		_, err = conn.Query(ctx, "SELECT FROM WHERE")
		ex, err2 := exception(err, 62)
		if err2 != nil {
			return "", fmt.Errorf("Query: %w", err2)
		}
		return ex.CodeName, nil
	})

	check("errors.unknown_table", func() (string, error) {
		_, err := conn.Query(ctx, "SELECT * FROM "+*database+".go_no_such_table")
		ex, err2 := exception(err, 60)
		if err2 != nil {
			return "", err2
		}
		if status := httpStatus(err); status != 404 {
			return "", fmt.Errorf("HTTP status %d, expected 404", status)
		}
		if ex.CodeName != "UNKNOWN_TABLE" {
			return "", fmt.Errorf("code name %q", ex.CodeName)
		}
		var count uint64
		err = conn.QueryRow(ctx, "SELECT count() FROM "+*database+".go_no_such_table").Scan(&count)
		if _, err2 := exception(err, 60); err2 != nil {
			return "", fmt.Errorf("QueryRow: %w", err2)
		}
		_, err = conn.PrepareBatch(ctx, "INSERT INTO "+*database+".go_no_such_table")
		if _, err2 := exception(err, 60); err2 != nil {
			return "", fmt.Errorf("PrepareBatch: %w", err2)
		}
		return ex.CodeName, nil
	})

	check("errors.insert", func() (string, error) {
		// a failure the server finds while inserting the batch's block: a constraint
		t, drop, err := scratchTable(ctx, conn, *database, "constraint", suffix, "(x UInt8, CONSTRAINT small CHECK x < 10) ENGINE = MergeTree ORDER BY x")
		if err != nil {
			return "", err
		}
		defer drop()
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+t)
		if err != nil {
			return "", err
		}
		defer batch.Close()
		for _, x := range []uint8{1, 2, 50} {
			if err := batch.Append(x); err != nil {
				return "", err
			}
		}
		err = batch.Send()
		ex, err2 := exception(err, 469) // VIOLATED_CONSTRAINT
		if err2 != nil {
			return "", err2
		}
		return ex.CodeName, nil
	})

	check("errors.mid_stream", func() (string, error) {
		// the exception comes after the server has begun to stream the result (HTTP 200 sent)
		rows, err := conn.Query(clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_block_size": 10000})),
			"SELECT number, throwIf(number = 700000, 'go check boom') FROM numbers(1000000)")
		if err != nil {
			if _, err2 := exception(err, 395); err2 != nil {
				return "", err2
			}
			return "before any row: " + err.Error(), nil
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			n++
		}
		err = rows.Err()
		if _, err2 := exception(err, 395); err2 != nil { // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
			return "", fmt.Errorf("after %d rows: %w", n, err2)
		}
		if n >= 1000000 {
			return "", fmt.Errorf("read all %d rows", n)
		}
		return fmt.Sprintf("after %d rows", n), nil
	})

	check("insert.async", func() (string, error) {
		t, drop, err := scratchTable(ctx, conn, *database, "async", suffix, "(x UInt64, s String) ENGINE = MergeTree ORDER BY x")
		if err != nil {
			return "", err
		}
		defer drop()
		for i := 0; i < 3; i++ {
			if err := conn.AsyncInsert(ctx, fmt.Sprintf("INSERT INTO %s VALUES (%d, 'a%d')", t, i, i), true); err != nil {
				return "", fmt.Errorf("AsyncInsert: %w", err)
			}
		}
		batch, err := conn.PrepareBatch(clickhouse.Context(ctx, clickhouse.WithAsync(true)), "INSERT INTO "+t)
		if err != nil {
			return "", err
		}
		defer batch.Close()
		for i := 3; i < 10; i++ {
			if err := batch.Append(uint64(i), fmt.Sprintf("b%d", i)); err != nil {
				return "", err
			}
		}
		if err := batch.Send(); err != nil {
			return "", fmt.Errorf("async batch: %w", err)
		}
		var count, sum uint64
		if err := conn.QueryRow(ctx, "SELECT count(), sum(x) FROM "+t).Scan(&count, &sum); err != nil {
			return "", err
		}
		if count != 10 || sum != 45 {
			return "", fmt.Errorf("count %d sum %d after waited async inserts", count, sum)
		}
		return "", nil
	})

	check("format.query_and_insert", func() (string, error) {
		stream, err := conn.QueryFormat(ctx, "CSVWithNames", "SELECT number AS n, toString(number * 2) AS s FROM numbers(3)")
		if err != nil {
			return "", err
		}
		body, err := io.ReadAll(stream)
		stream.Close()
		if err != nil {
			return "", err
		}
		if string(body) != "\"n\",\"s\"\n0,\"0\"\n1,\"2\"\n2,\"4\"\n" {
			return "", fmt.Errorf("CSV %q", body)
		}
		t, drop, err := scratchTable(ctx, conn, *database, "format", suffix, "(n UInt8, s String) ENGINE = MergeTree ORDER BY n")
		if err != nil {
			return "", err
		}
		defer drop()
		data := strings.NewReader("{\"n\": 1, \"s\": \"one\"}\n{\"n\": 2, \"s\": \"two\"}\n")
		if err := conn.InsertFormat(ctx, "JSONEachRow", "INSERT INTO "+t, data); err != nil {
			return "", err
		}
		var joined string
		if err := conn.QueryRow(ctx, "SELECT arrayStringConcat(groupArray(s), ',') FROM (SELECT s FROM "+t+" ORDER BY n)").Scan(&joined); err != nil {
			return "", err
		}
		if joined != "one,two" {
			return "", fmt.Errorf("inserted %q", joined)
		}
		return "", nil
	})

	check("big_result.stream", func() (string, error) {
		started := time.Now()
		rows, err := conn.Query(ctx, "SELECT number, toString(number) FROM numbers(1000000)")
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var n, sum uint64
		for rows.Next() {
			var x uint64
			var s string
			if err := rows.Scan(&x, &s); err != nil {
				return "", err
			}
			if x != n {
				return "", fmt.Errorf("row %d is %d", n, x)
			}
			n++
			sum += uint64(len(s))
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
		if n != 1000000 || sum != 5888890 {
			return "", fmt.Errorf("%d rows, %d digits", n, sum)
		}
		return fmt.Sprintf("1000000 rows in %.2fs", time.Since(started).Seconds()), nil
	})

	check("batch.big", func() (string, error) {
		t, drop, err := scratchTable(ctx, conn, *database, "big", suffix, "(x UInt64, s String, at DateTime) ENGINE = MergeTree ORDER BY x")
		if err != nil {
			return "", err
		}
		defer drop()
		started := time.Now()
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+t)
		if err != nil {
			return "", err
		}
		defer batch.Close()
		const rows = 1000000
		at := time.Unix(1_750_000_000, 0)
		for i := uint64(0); i < rows; i++ {
			if err := batch.Append(i, "value", at); err != nil {
				return "", err
			}
		}
		if err := batch.Send(); err != nil {
			return "", err
		}
		elapsed := time.Since(started)
		var count, sum uint64
		if err := conn.QueryRow(ctx, "SELECT count(), sum(x) FROM "+t).Scan(&count, &sum); err != nil {
			return "", err
		}
		if count != rows || sum != rows*(rows-1)/2 {
			return "", fmt.Errorf("count %d sum %d", count, sum)
		}
		return fmt.Sprintf("%d rows in %.2fs", rows, elapsed.Seconds()), nil
	})

	check("pool.concurrent", func() (string, error) {
		// goroutines sharing the default pool, as a Go service does
		const workers, each = 16, 20
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			go func(w int) {
				for i := 0; i < each; i++ {
					var got uint64
					if err := conn.QueryRow(ctx, "SELECT {w:UInt64} * 1000 + {i:UInt64} + count() FROM numbers(1000)",
						clickhouse.Named("w", w), clickhouse.Named("i", i)).Scan(&got); err != nil {
						errs <- err
						return
					}
					if want := uint64(w*1000 + i + 1000); got != want {
						errs <- fmt.Errorf("worker %d got %d, expected %d", w, got, want)
						return
					}
				}
				errs <- nil
			}(w)
		}
		for w := 0; w < workers; w++ {
			if err := <-errs; err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%d goroutines × %d queries", workers, each), nil
	})

	check("context.cancel", func() (string, error) {
		// a cancelled context drops the request; the server must then kill the query (docs: well
		// within a second). The query is found in system.processes by a marker in its text.
		marker := "go-cancel-" + suffix
		running := func() (uint64, error) {
			var n uint64
			err := conn.QueryRow(ctx, "SELECT count() FROM system.processes WHERE position(query, {m:String}) > 0 AND query NOT LIKE '%system.processes%'",
				clickhouse.Named("m", marker)).Scan(&n)
			return n, err
		}
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			var sum uint64
			done <- conn.QueryRow(cctx, "SELECT /* "+marker+" */ sum(cityHash64(number)) FROM numbers(100000000000)").Scan(&sum)
		}()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			n, err := running()
			if err != nil {
				return "", err
			}
			if n > 0 {
				break
			}
			select {
			case err := <-done:
				return "", fmt.Errorf("the long query ended before it was cancelled: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				return "", errors.New("the long query never showed in system.processes")
			}
		}
		cancelled := time.Now()
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				return "", fmt.Errorf("got %v, expected context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			return "", errors.New("the query did not return 5 s after its context was cancelled")
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			n, err := running()
			if err != nil {
				return "", err
			}
			if n == 0 {
				return fmt.Sprintf("killed %.2fs after the cancel", time.Since(cancelled).Seconds()), nil
			}
			if time.Now().After(deadline) {
				return "", errors.New("the query still runs 10 s after its client went away")
			}
		}
	})

	check("session.state", func() (string, error) {
		session := "go-session-" + suffix
		c, err := open(*user, *password, func(o *clickhouse.Options) {
			o.Settings = clickhouse.Settings{"session_id": session, "session_timeout": 60}
			// A database in the options goes with every request and, as in ClickHouse, wins over the
			// session's USE for that request: a client that relies on USE names none.
			o.Auth.Database = ""
			o.MaxOpenConns = 1
		})
		if err != nil {
			return "", err
		}
		defer c.Close()
		db := "go_session_db_" + suffix
		for _, statement := range []string{
			"CREATE DATABASE " + db, "USE " + db, "SET max_threads = 3",
			"CREATE TEMPORARY TABLE go_tmp (x UInt8)", "INSERT INTO go_tmp VALUES (1), (2)",
		} {
			if err := c.Exec(ctx, statement); err != nil {
				return "", fmt.Errorf("%s: %w", statement, err)
			}
		}
		defer conn.Exec(ctx, "DROP DATABASE "+db)
		var current string
		var threads, count uint64
		if err := c.QueryRow(ctx, "SELECT currentDatabase(), toUInt64(getSetting('max_threads')), (SELECT count() FROM go_tmp)").Scan(&current, &threads, &count); err != nil {
			return "", err
		}
		if current != db || threads != 3 || count != 2 {
			return "", fmt.Errorf("in the session: database %q, max_threads %d, temporary rows %d", current, threads, count)
		}
		batch, err := c.PrepareBatch(ctx, "INSERT INTO go_tmp")
		if err != nil {
			return "", fmt.Errorf("batch into the temporary table: %w", err)
		}
		if err := batch.Append(uint8(3)); err != nil {
			return "", err
		}
		if err := batch.Send(); err != nil {
			return "", fmt.Errorf("batch into the temporary table: %w", err)
		}
		if err := c.QueryRow(ctx, "SELECT count() FROM go_tmp").Scan(&count); err != nil {
			return "", err
		}
		if count != 3 {
			return "", fmt.Errorf("%d rows in the temporary table after the batch", count)
		}
		// another connection without the session sees none of it
		if err := conn.QueryRow(ctx, "SELECT currentDatabase(), toUInt64(getSetting('max_threads'))").Scan(&current, &threads); err != nil {
			return "", err
		}
		if current != *database || threads == 3 {
			return "", fmt.Errorf("outside the session: database %q, max_threads %d", current, threads)
		}
		return "", nil
	})

	check("std.open_db", func() (string, error) {
		db := clickhouse.OpenDB(options(*user, *password, nil))
		defer db.Close()
		if err := db.PingContext(ctx); err != nil {
			return "", err
		}
		return stdChecks(ctx, db, suffix+"_opendb")
	})

	check("std.dsn", func() (string, error) {
		dsn := fmt.Sprintf("http://%s:%s@%s/%s", *user, *password, *addr, *database)
		db, err := sql.Open("clickhouse", dsn)
		if err != nil {
			return "", err
		}
		defer db.Close()
		if err := db.PingContext(ctx); err != nil {
			return "", err
		}
		return stdChecks(ctx, db, suffix+"_dsn")
	})

	if *readerUser != "" {
		check("reader.read", func() (string, error) {
			c, err := open(*readerUser, *readerPassword, nil)
			if err != nil {
				return "", err
			}
			defer c.Close()
			var n uint64
			if err := c.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE id < {n:UInt64}", clickhouse.Named("n", 10)).Scan(&n); err != nil {
				return "", err
			}
			if n != 10 {
				return "", fmt.Errorf("count %d", n)
			}
			var got []Row
			if err := c.Select(ctx, &got, "SELECT * FROM "+table+" ORDER BY id LIMIT 5"); err != nil {
				return "", err
			}
			for _, r := range got {
				if err := compareRow(r); err != nil {
					return "", err
				}
			}
			return fmt.Sprintf("%d rows", len(got)), nil
		})

		check("reader.write_refused", func() (string, error) {
			c, err := open(*readerUser, *readerPassword, nil)
			if err != nil {
				return "", err
			}
			defer c.Close()
			err = c.Exec(ctx, "CREATE TABLE "+*database+".go_reader_"+suffix+" (x UInt8) ENGINE = MergeTree ORDER BY x")
			if _, err := exception(err, 164); err != nil {
				return "", fmt.Errorf("CREATE: %w", err)
			}
			status := httpStatus(err) // ClickHouse's mapping leaves READONLY out: 500
			batch, err := c.PrepareBatch(ctx, "INSERT INTO "+table+" (id)")
			if err != nil {
				return "", fmt.Errorf("PrepareBatch: %w", err)
			}
			defer batch.Close()
			if err := batch.Append(uint64(424242)); err != nil {
				return "", err
			}
			if _, err := exception(batch.Send(), 164); err != nil {
				return "", fmt.Errorf("batch INSERT: %w", err)
			}
			if _, err := exception(c.AsyncInsert(ctx, "INSERT INTO "+table+" (id) VALUES (424243)", true), 164); err != nil {
				return "", fmt.Errorf("AsyncInsert: %w", err)
			}
			var count uint64
			if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE id > 424000").Scan(&count); err != nil {
				return "", err
			}
			if count != 0 {
				return "", fmt.Errorf("%d rows got in", count)
			}
			return fmt.Sprintf("READONLY (HTTP %d)", status), nil
		})
	}

	check("exec.drop", func() (string, error) {
		return "", conn.Exec(ctx, "DROP TABLE "+table)
	})

	if failed > 100 {
		failed = 100
	}
	os.Exit(failed)
}

// compressed inserts, reads and errs on a connection that compresses with method.
func compressed(ctx context.Context, method clickhouse.CompressionMethod, suffix string) (string, error) {
	c, err := open(*user, *password, func(o *clickhouse.Options) {
		o.Compression = &clickhouse.Compression{Method: method}
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	t := fmt.Sprintf("%s.go_compressed_%s_%s", *database, method, suffix)
	if err := c.Exec(ctx, "CREATE TABLE "+t+" (x UInt64, s String) ENGINE = MergeTree ORDER BY x"); err != nil {
		return "", fmt.Errorf("create: %w", err)
	}
	defer c.Exec(ctx, "DROP TABLE "+t)
	batch, err := c.PrepareBatch(ctx, "INSERT INTO "+t)
	if err != nil {
		return "", fmt.Errorf("prepare: %w", err)
	}
	defer batch.Close()
	const rows = 50000
	for i := uint64(0); i < rows; i++ {
		if err := batch.Append(i, strings.Repeat("z", int(i%50))); err != nil {
			return "", err
		}
	}
	if err := batch.Send(); err != nil {
		return "", fmt.Errorf("insert: %w", err)
	}
	var count, sum, length uint64
	if err := c.QueryRow(ctx, "SELECT count(), sum(x), sum(length(s)) FROM "+t).Scan(&count, &sum, &length); err != nil {
		return "", fmt.Errorf("count: %w", err)
	}
	if count != rows || sum != rows*(rows-1)/2 || length != 1225000 {
		return "", fmt.Errorf("count %d sum %d length %d", count, sum, length)
	}
	result, err := c.Query(ctx, "SELECT x, s FROM "+t+" ORDER BY x")
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	defer result.Close()
	n := uint64(0)
	for result.Next() {
		var x uint64
		var s string
		if err := result.Scan(&x, &s); err != nil {
			return "", err
		}
		if x != n || len(s) != int(n%50) {
			return "", fmt.Errorf("row %d read as %d %q", n, x, s)
		}
		n++
	}
	if err := result.Err(); err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	if n != rows {
		return "", fmt.Errorf("read %d rows", n)
	}
	_, err = c.Query(ctx, "SELECT * FROM "+*database+".go_no_such_table")
	if _, err := exception(err, 60); err != nil {
		return "", fmt.Errorf("error through %s: %w", method, err)
	}
	return fmt.Sprintf("%d rows in and out, errors readable", rows), nil
}

// stdChecks is what a database/sql user does: DDL, a prepared batch in a transaction, a read, an error.
func stdChecks(ctx context.Context, db *sql.DB, suffix string) (string, error) {
	var version string
	if err := db.QueryRowContext(ctx, "SELECT version()").Scan(&version); err != nil {
		return "", err
	}
	t := fmt.Sprintf("%s.go_std_%s", *database, suffix)
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+t+" (id UInt32, name String, at DateTime64(3, 'UTC'), score Nullable(Float64)) ENGINE = MergeTree ORDER BY id"); err != nil {
		return "", fmt.Errorf("create: %w", err)
	}
	defer db.ExecContext(ctx, "DROP TABLE "+t)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+t)
	if err != nil {
		return "", fmt.Errorf("prepare: %w", err)
	}
	base := time.Date(2026, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	for i := 0; i < 100; i++ {
		var score any
		if i%2 == 0 {
			score = float64(i) / 2
		}
		if _, err := stmt.ExecContext(ctx, uint32(i), fmt.Sprintf("name %d", i), base.Add(time.Duration(i)*time.Second), score); err != nil {
			return "", fmt.Errorf("exec row %d: %w", i, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("commit: %w", err)
	}
	rows, err := db.QueryContext(ctx, "SELECT id, name, at, score FROM "+t+" WHERE id >= ? ORDER BY id", 98)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id uint32
		var name string
		var at time.Time
		var score sql.NullFloat64
		if err := rows.Scan(&id, &name, &at, &score); err != nil {
			return "", err
		}
		got = append(got, fmt.Sprintf("%d %s %s %v", id, name, at.UTC().Format("15:04:05.000"), score))
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	want := []string{"98 name 98 07:09:47.123 {49 true}", "99 name 99 07:09:48.123 {0 false}"}
	if !reflect.DeepEqual(got, want) {
		return "", fmt.Errorf("read %q", got)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count() FROM "+t+" WHERE name = {n:String}", sql.Named("n", "name 7")).Scan(&n); err != nil {
		return "", fmt.Errorf("sql.Named: %w", err)
	}
	if n != 1 {
		return "", fmt.Errorf("sql.Named count %d", n)
	}
	_, err = db.QueryContext(ctx, "SELECT * FROM "+*database+".go_no_such_table")
	if _, err := exception(err, 60); err != nil {
		return "", fmt.Errorf("error: %w", err)
	}
	return fmt.Sprintf("server %s, 100 rows in a transaction", version), nil
}
