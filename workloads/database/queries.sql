-- queries.sql -- decision-support queries modelled on TPC-H Q1, Q3 and Q6.
-- All arithmetic is on integers (cents, percent), so results are exact;
-- "x100" / "x10000" columns carry the fixed-point scale in their name.
.mode list
.separator |
.headers off

-- Q1: pricing summary report (full scan of lineitem, grouping)
SELECT 'Q1', l_returnflag, l_linestatus,
       sum(l_quantity),
       sum(l_extendedprice),
       sum(l_extendedprice * (100 - l_discount)),                    -- x100
       sum(l_extendedprice * (100 - l_discount) * (100 + l_tax)),    -- x10000
       sum(l_quantity) * 100 / count(*),                             -- avg qty x100
       sum(l_extendedprice) / count(*),                              -- avg price
       sum(l_discount) * 100 / count(*),                             -- avg disc x100
       count(*)
  FROM lineitem
 WHERE l_shipdate <= '1998-09-02'
 GROUP BY l_returnflag, l_linestatus
 ORDER BY l_returnflag, l_linestatus;

-- Q3: shipping priority (three-way join, grouping, top 10)
SELECT 'Q3', l_orderkey,
       sum(l_extendedprice * (100 - l_discount)) AS revenue,         -- x100
       o_orderdate, o_shippriority
  FROM customer, orders, lineitem
 WHERE c_mktsegment = 'BUILDING'
   AND c_custkey = o_custkey
   AND l_orderkey = o_orderkey
   AND o_orderdate < '1995-03-15'
   AND l_shipdate > '1995-03-15'
 GROUP BY l_orderkey, o_orderdate, o_shippriority
 ORDER BY revenue DESC, o_orderdate, l_orderkey
 LIMIT 10;

-- Q6: forecasting revenue change (selective scan)
SELECT 'Q6', sum(l_extendedprice * l_discount), count(*)             -- x100
  FROM lineitem
 WHERE l_shipdate >= '1994-01-01' AND l_shipdate < '1995-01-01'
   AND l_discount BETWEEN 5 AND 7
   AND l_quantity < 24;
