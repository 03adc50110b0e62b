build-int/obj/src/engine/params.o: src/engine/params.c include/orfeas.h
include/orfeas.h:
