"""A pandas report: builds a frame of orders, cleans its text columns,
joins it to a customer table, groups, pivots and writes the result as CSV
(to memory), as a data-cleaning script does.

    python benchmarks/workloads/pandas_frames.py [--rows N] [--rounds N]
"""

import argparse
import io

import numpy
import pandas


def one_round(rows, generator):
    orders = pandas.DataFrame({
        "order": numpy.arange(rows),
        "customer": generator.integers(0, rows // 20 + 1, rows),
        "amount": generator.gamma(2.0, 30.0, rows).round(2),
        "code": [f" SKU-{value:05d} " for value in generator.integers(0, 5000, rows)],
        "day": pandas.to_datetime("2026-01-01") +
        pandas.to_timedelta(generator.integers(0, 365, rows), unit="D"),
    })
    orders["code"] = orders["code"].str.strip().str.lower()
    customers = pandas.DataFrame({"customer": numpy.arange(rows // 20 + 1)})
    customers["region"] = customers["customer"].map(lambda number: f"region-{number % 17}")
    joined = orders.merge(customers, on="customer", how="left")
    joined["month"] = joined["day"].dt.month
    totals = joined.groupby(["region", "month"], as_index=False)["amount"].agg(["sum", "mean"])
    table = joined.pivot_table(index="region", columns="month", values="amount",
                               aggfunc="sum", fill_value=0)
    output = io.StringIO()
    totals.to_csv(output, index=False)
    table.to_csv(output)
    return len(output.getvalue())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--rounds", type=int, default=4)
    arguments = parser.parse_args(argv)
    generator = numpy.random.default_rng(7)
    written = sum(one_round(arguments.rows, generator) for _ in range(arguments.rounds))
    print(f"{arguments.rounds} rounds of {arguments.rows} rows, {written} CSV characters")


if __name__ == "__main__":
    main()
