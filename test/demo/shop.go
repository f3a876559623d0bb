package main

import (
	"context"
	"fmt"

	"github.com/dmraft/dmraft/test/harness"
	"github.com/dmraft/dmraft/test/mariadb"
)

// shopSchema creates and fills the sample database: keyed tables, a
// composite key, and a log table without any key.
func shopSchema() []string {
	return []string{
		"CREATE DATABASE shop",
		"USE shop",
		`CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(100), email VARCHAR(200) UNIQUE,
		  country CHAR(2), created DATETIME(6), vip BIT(1)) DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE shop.orders (id BIGINT PRIMARY KEY AUTO_INCREMENT, customer_id INT, total DECIMAL(12,2),
		  status ENUM('new','paid','shipped'), note JSON, placed TIMESTAMP(3) NULL) DEFAULT CHARSET=utf8mb4`,
		`CREATE TABLE shop.order_items (order_id BIGINT, line INT, sku VARCHAR(32), qty SMALLINT UNSIGNED,
		  price DOUBLE, PRIMARY KEY (order_id, line))`,
		`CREATE TABLE shop.audit_log (at DATETIME, actor VARCHAR(50), action TEXT)`,
		`INSERT INTO shop.customers SELECT seq, CONCAT('customer ', seq, IF(seq % 7 = 0, ' 😀', '')),
		  CONCAT('c', seq, '@example.com'), ELT(1 + seq % 4, 'DE', 'FR', 'JP', 'BR'),
		  '2024-01-01 00:00:00' + INTERVAL seq MINUTE, seq % 2 FROM seq_1_to_5000`,
		`INSERT INTO shop.orders (id, customer_id, total, status, note, placed) SELECT seq, 1 + seq % 5000,
		  ROUND(seq * 1.37, 2), ELT(1 + seq % 3, 'new', 'paid', 'shipped'),
		  JSON_OBJECT('gift', seq % 5 = 0), '2024-02-01 00:00:00' + INTERVAL seq SECOND FROM seq_1_to_20000`,
		`INSERT INTO shop.order_items SELECT 1 + seq DIV 3, seq % 3, CONCAT('SKU-', seq % 997), 1 + seq % 9,
		  (seq % 1000) / 7 FROM seq_0_to_59999`,
		`INSERT INTO shop.audit_log SELECT '2024-03-01' + INTERVAL seq SECOND, 'system', CONCAT('import batch ', seq)
		  FROM seq_1_to_2000`,
	}
}

// writeLoad changes the source: new customers and orders, payments,
// deletions, a log line (no key), in transactions.
func writeLoad(ctx context.Context, tb *harness.ProgramTB, up *mariadb.Server, round int) {
	base := 100000 * round
	stmts := []string{
		"USE shop",
		fmt.Sprintf(`INSERT INTO shop.customers SELECT %d + seq, CONCAT('new customer ', seq), CONCAT('n%d_', seq, '@example.com'),
		  'SE', NOW(6), 1 FROM seq_1_to_200`, base, round),
		fmt.Sprintf(`INSERT INTO shop.orders (customer_id, total, status, note, placed) SELECT %d + seq, seq, 'new',
		  JSON_OBJECT('round', %d), NOW(3) FROM seq_1_to_500`, base, round),
		fmt.Sprintf("UPDATE shop.orders SET status = 'paid', total = total + 1 WHERE id %% 10 = %d", round),
		fmt.Sprintf("DELETE FROM shop.order_items WHERE order_id %% 50 = %d", round),
		fmt.Sprintf("UPDATE shop.customers SET email = CONCAT('moved', id, '@example.org') WHERE id %% 100 = %d", round),
		fmt.Sprintf("INSERT INTO shop.audit_log VALUES (NOW(), 'demo', 'round %d')", round),
		fmt.Sprintf("DELETE FROM shop.audit_log WHERE action = 'import batch %d'", round),
	}
	if err := up.ExecSQL(ctx, stmts...); err != nil {
		tb.Fatal(err)
	}
	fmt.Printf("  wrote round %d to the source: +200 customers, +500 orders, updates, deletes, a log line\n", round)
}
