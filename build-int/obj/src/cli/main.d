build-int/obj/src/cli/main.o: src/cli/main.c include/orfeas.h
include/orfeas.h:
