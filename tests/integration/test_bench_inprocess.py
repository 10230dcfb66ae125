"""bench/inprocess.py drives every workload through the app itself and reports its CPU. Timings are never
asserted here: only that each workload was answered without errors (measure raises otherwise) and measured."""

from bench.inprocess import main


def test_the_in_process_measure_answers_every_workload_and_reports_it() -> None:
    printed: list[str] = []
    result = main(["--requests", "10"], out=printed.append)
    assert min(result.pet_query_us, result.list_of_20_us, result.list_of_1_us) > 0
    labels = [line.split(":")[0] for line in printed]
    assert labels == ["pet query", "list of 20", "each further pet of a page"]
