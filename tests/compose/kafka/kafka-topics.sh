#!/bin/bash
# kafka-topics.sh of the stand-in Kafka image: the official tool's main class, same arguments.
exec java -Xmx256m -Dlog4j.configuration=file:/opt/kafka/config/tools-log4j.properties \
    -cp '/opt/kafka/libs/*' org.apache.kafka.tools.TopicCommand "$@"
