"""``python -m jobs.batch_moderate``: the job's command line."""

import logging

from jobs.batch_moderate.job import main

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    main()
