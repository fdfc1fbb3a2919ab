-- schema.sql -- TPC-H-like tables for the disco database workload.
-- Money in integer cents, discount and tax in integer percent.
PRAGMA page_size = 4096;
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE customer (
  c_custkey    INTEGER PRIMARY KEY,
  c_name       TEXT NOT NULL,
  c_nationkey  INTEGER NOT NULL,
  c_acctbal    INTEGER NOT NULL,
  c_mktsegment TEXT NOT NULL,
  c_comment    TEXT NOT NULL
);
CREATE TABLE orders (
  o_orderkey      INTEGER PRIMARY KEY,
  o_custkey       INTEGER NOT NULL,
  o_orderstatus   TEXT NOT NULL,
  o_totalprice    INTEGER NOT NULL,
  o_orderdate     TEXT NOT NULL,
  o_orderpriority TEXT NOT NULL,
  o_clerk         TEXT NOT NULL,
  o_shippriority  INTEGER NOT NULL,
  o_comment       TEXT NOT NULL
);
CREATE TABLE lineitem (
  l_orderkey      INTEGER NOT NULL,
  l_linenumber    INTEGER NOT NULL,
  l_partkey       INTEGER NOT NULL,
  l_suppkey       INTEGER NOT NULL,
  l_quantity      INTEGER NOT NULL,
  l_extendedprice INTEGER NOT NULL,
  l_discount      INTEGER NOT NULL,
  l_tax           INTEGER NOT NULL,
  l_returnflag    TEXT NOT NULL,
  l_linestatus    TEXT NOT NULL,
  l_shipdate      TEXT NOT NULL,
  l_commitdate    TEXT NOT NULL,
  l_receiptdate   TEXT NOT NULL,
  l_shipinstruct  TEXT NOT NULL,
  l_shipmode      TEXT NOT NULL,
  l_comment       TEXT NOT NULL
);
.mode list
.separator |
.import customer.tbl customer
.import orders.tbl orders
.import lineitem.tbl lineitem
CREATE INDEX orders_cust ON orders(o_custkey);
CREATE INDEX lineitem_order ON lineitem(l_orderkey);
ANALYZE;
