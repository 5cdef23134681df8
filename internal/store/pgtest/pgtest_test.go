package pgtest_test

import (
	"database/sql"
	"testing"

	"github.com/guardd/guardd/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestDatabasesAreSeparate shows that each test's database starts empty and
// that the cluster takes the password it was given.
func TestDatabasesAreSeparate(t *testing.T) {
	for range 2 {
		db, err := sql.Open("pgx", pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("got %d tables in a new database, want 0", n)
		}
		if _, err := db.Exec("CREATE TABLE x (a int)"); err != nil {
			t.Fatal(err)
		}
	}
	s := pgtest.Get(t)
	bad := s.DSNFor("postgres") + " password=wrong"
	db, _ := sql.Open("pgx", bad)
	defer db.Close()
	if err := db.Ping(); err == nil {
		t.Fatal("a wrong password connected")
	}
}
