build-lead/obj/tests/test_params.o: tests/test_params.c include/orfeas.h
include/orfeas.h:
