import psycopg


def test_throwaway_postgres_answers(pg_server_url: str) -> None:
    with psycopg.connect(pg_server_url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
