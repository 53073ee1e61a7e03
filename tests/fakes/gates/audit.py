from tests.fakes.gates import main

main("audit")
